/* pg_log.h - one level-checked logging macro; one write() per line so threads never interleave.
 * Thread: any. pg_log_level is set once at start-up, before threads start.
 */
#ifndef PG_LOG_H
#define PG_LOG_H

enum pg_log_lvl { PG_LOG_ERROR = 0, PG_LOG_WARN = 1, PG_LOG_INFO = 2, PG_LOG_DEBUG = 3 };

extern int pg_log_level;
extern int pg_log_json; /* 1: one JSON object per line instead of text */

#define PG_LOG(lvl, mod, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) <= pg_log_level)                                                                 \
            pg_log__emit((lvl), (mod), __VA_ARGS__);                                               \
    } while (0)

void pg_log__emit(int lvl, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "error", "warn", "info", "debug"; returns the level or -1. */
int pg_log_parse_level(const char *s);

/* Routes libwebsockets' own log lines (errors and warnings only) into pg_log. */
void pg_log_lws(int level, const char *line);

#endif
