/* pg_log.c - log line formatting. Thread: any (each line is one write(2) to stderr). */
#include "pg_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int pg_log_level = PG_LOG_INFO;

static const char *const lvl_names[] = {"error", "warn", "info", "debug"};

void pg_log__emit(int lvl, const char *mod, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-6s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000,
                     lvl_names[lvl < 0   ? 0
                               : lvl > 3 ? 3
                                         : lvl],
                     mod);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

int pg_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, lvl_names[i]) == 0)
            return i;
    return -1;
}

void pg_log_lws(int level, const char *line)
{
    /* lws passes LLL_ERR = 1, LLL_WARN = 2; lines end with a newline. */
    char buf[512];
    size_t n = strnlen(line, sizeof buf - 1);
    memcpy(buf, line, n);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = 0;
    PG_LOG(level == 1 ? PG_LOG_ERROR : PG_LOG_WARN, "lws", "%s", buf);
}
