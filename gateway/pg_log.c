/* pg_log.c - log line formatting. Thread: any (each line is one write(2) to stderr). */
#include "pg_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int pg_log_level = PG_LOG_INFO;
int pg_log_json;

static const char *const lvl_names[] = {"error", "warn", "info", "debug"};

void pg_log__emit(int lvl, const char *mod, const char *fmt, ...)
{
    char msg[900], line[1200];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    const char *name = lvl_names[lvl < 0 ? 0 : lvl > 3 ? 3 : lvl];
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    size_t len;
    if (pg_log_json) {
        /* Escape the message by hand: this runs on every thread and must not allocate. */
        char esc[sizeof msg * 2];
        size_t o = 0;
        for (const char *p = msg; *p && o < sizeof esc - 7; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\') {
                esc[o++] = '\\';
                esc[o++] = (char)c;
            } else if (c < 0x20) {
                o += (size_t)snprintf(esc + o, sizeof esc - o, "\\u%04x", c);
            } else {
                esc[o++] = (char)c;
            }
        }
        esc[o] = 0;
        int n = snprintf(line, sizeof line - 1,
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"%s\"}", when,
                         name, mod, esc);
        len = n < 0 ? 0 : (size_t)n;
    } else {
        int n = snprintf(line, sizeof line - 1, "%s %-5s %-6s %s", when, name, mod, msg);
        len = n < 0 ? 0 : (size_t)n;
    }
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
