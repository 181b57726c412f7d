/* pg_config_int.h - internals shared by the configuration module's files; include nowhere else.
 *   pg_config.c        the option tables, the file and environment sources, the public API
 *   pg_config_parse.c  error lines, storing values, JSON objects, list- and shape-checked options
 *   pg_config_help.c   --help, printed from the same tables
 * Thread: main, before other threads start.
 */
#ifndef PG_CONFIG_INT_H
#define PG_CONFIG_INT_H

#include "pg_config.h"

#include <json-c/json.h>

#define CFG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct cfg_ld {       /* one load: where errors go and what they are prefixed with */
    const char *file; /* NULL while reading the environment */
    char *err;
    size_t errlen;
};

enum cfg_type { CFG_T_BOOL, CFG_T_INT, CFG_T_INT64, CFG_T_STR, CFG_T_ENUM, CFG_T_ID, CFG_T_LIST };

#define CFG_F_REQUIRED 0x1u  /* must be in the file; the default serves only the default app */
#define CFG_F_SECRET 0x2u    /* the value is never echoed in an error */
#define CFG_F_UNLIMITED 0x4u /* -1 is accepted and means "no limit" */

struct cfg_opt;
/* A CFG_T_LIST option reads its own JSON value v into obj; kp is the key path for errors. */
typedef int cfg_parse_fn(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                         void *obj, const char *kp);
typedef void cfg_dispose_fn(void *obj); /* frees what the parser stored; idempotent */

struct cfg_opt {
    const char *key;
    const char *env; /* app table: applies to the embedded default app only */
    enum cfg_type type;
    unsigned flags;
    size_t off;
    int64_t def;                /* CFG_T_BOOL, CFG_T_INT, CFG_T_INT64 */
    const char *sdef;           /* CFG_T_STR, CFG_T_ENUM, CFG_T_ID */
    int64_t min, max;           /* CFG_T_INT, CFG_T_INT64 */
    const char *const *choices; /* CFG_T_ENUM, and a CFG_T_LIST of names: NULL-terminated */
    /* CFG_T_LIST: arrays, objects and strings with their own shape. what names the value. */
    cfg_parse_fn *parse;
    cfg_dispose_fn *dispose;
    const char *what;
    const char *help;
};

struct cfg_table { /* the options of one kind of JSON object */
    const struct cfg_opt *opts;
    size_t n;
};

static inline void *cfg_field(void *obj, const struct cfg_opt *o) { return (char *)obj + o->off; }

/* ---- pg_config.c: one table per JSON object ---- */
extern const struct cfg_table pg_config__top, pg_config__app, pg_config__hook, pg_config__tls;

/* ---- pg_config_parse.c: error lines ---- */
/* Writes "<file>: <kp>: <message>" (either prefix absent when NULL) into ld->err; returns rc. */
__attribute__((format(printf, 4, 5))) int pg_config__fail(struct cfg_ld *ld, int rc, const char *kp,
                                                          const char *fmt, ...);
int pg_config__nomem(struct cfg_ld *ld);
const char *pg_config__quote(char *buf, size_t n, const char *s, size_t len);
const char *pg_config__describe(char *buf, size_t n, struct json_object *v);
void pg_config__join(char *buf, size_t n, const char *const *list, const char *sep);
const char *pg_config__expect(char *buf, size_t n, const struct cfg_opt *o);

/* ---- pg_config_parse.c: storing values (defaults, file and environment) ---- */
void pg_config__free_str(char *s); /* wipes, then frees; NULL: no-op */
bool pg_config__in_range(const struct cfg_opt *o, int64_t v);
void pg_config__put_int(void *obj, const struct cfg_opt *o, int64_t v);
int pg_config__put_str(void *obj, const struct cfg_opt *o, const char *s, size_t len);
int pg_config__fill_defaults(struct cfg_ld *ld, const struct cfg_table *t, void *obj);
void pg_config__free_obj(const struct cfg_table *t, void *obj);
/* Reads the JSON object jo into obj through t. kp is the key path of jo (NULL: top level). */
int pg_config__parse_obj(struct cfg_ld *ld, const struct cfg_table *t, struct json_object *jo,
                         void *obj, const char *kp);

/* ---- pg_config_parse.c: CFG_T_LIST options ---- */
cfg_parse_fn pg_config__parse_apps, pg_config__parse_hooks, pg_config__parse_url,
    pg_config__parse_events, pg_config__parse_headers, pg_config__parse_proxies,
    pg_config__parse_master_key, pg_config__parse_tls;
cfg_dispose_fn pg_config__free_apps, pg_config__free_hooks, pg_config__free_url,
    pg_config__free_events, pg_config__free_headers, pg_config__free_proxies,
    pg_config__free_master_key, pg_config__free_tls;

#endif
