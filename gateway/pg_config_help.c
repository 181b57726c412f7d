/* pg_config_help.c - --help: every option with its type, default, environment variable and
 * meaning, printed from the same tables the loader reads (pg_config.c), so the two cannot drift.
 * Thread: main. Caller: main.c on --help.
 */
#include "pg_config_int.h"

#include <inttypes.h>
#include <string.h>

static void print_opt(FILE *out, const struct cfg_opt *o, bool app)
{
    char tb[256], db[128];
    const char *type = tb;
    switch (o->type) {
    case CFG_T_BOOL:
        type = "boolean";
        break;
    case CFG_T_INT:
    case CFG_T_INT64:
        if (o->flags & CFG_F_UNLIMITED)
            snprintf(tb, sizeof tb, "integer >= %" PRId64 ", or -1 for unlimited", o->min);
        else
            snprintf(tb, sizeof tb, "integer %" PRId64 "..%" PRId64, o->min, o->max);
        break;
    case CFG_T_STR:
        type = "string";
        break;
    case CFG_T_ENUM:
        pg_config__join(tb, sizeof tb, o->choices, "|");
        break;
    case CFG_T_ID:
        type = "string or integer";
        break;
    case CFG_T_LIST:
        if (o->choices) {
            char list[200];
            pg_config__join(list, sizeof list, o->choices, "|");
            snprintf(tb, sizeof tb, "%s (%s)", o->what, list);
        } else {
            type = o->what;
        }
        if (!strncmp(type, "an ", 3) || !strncmp(type, "a ", 2))
            type = strchr(type, ' ') + 1; /* "an array of ..." reads as a type without "an" */
        break;
    }
    if (o->flags & CFG_F_REQUIRED)
        snprintf(db, sizeof db, o->sdef ? "required (default app: \"%s\")" : "required",
                 o->sdef ? o->sdef : "");
    else if (o->type == CFG_T_BOOL)
        snprintf(db, sizeof db, "default %s", o->def ? "true" : "false");
    else if (o->type == CFG_T_INT || o->type == CFG_T_INT64)
        snprintf(db, sizeof db, "default %" PRId64 "%s", o->def,
                 (o->flags & CFG_F_UNLIMITED) && o->def == PG_UNLIMITED ? " (unlimited)" : "");
    else if (o->sdef)
        snprintf(db, sizeof db, "default \"%s\"", o->sdef);
    else
        snprintf(db, sizeof db, "optional");
    fprintf(out, "  %-34s %s; %s", o->key, type, db);
    if (o->env)
        fprintf(out, "; env %s%s", o->env, app ? " (default app only)" : "");
    fprintf(out, "\n      %s\n", o->help);
}

void pg_config_print_help(FILE *out)
{
    fprintf(out, "Configuration: a JSON object read with --config FILE. Later wins: defaults < "
                 "file < PUSHGATE_* environment < command line.\n\nTop-level keys:\n");
    for (size_t i = 0; i < pg_config__top.n; i++)
        print_opt(out, &pg_config__top.opts[i], false);
    fprintf(out, "\nKeys of each object in \"apps\" (max_* limits: -1 = unlimited):\n");
    for (size_t i = 0; i < pg_config__app.n; i++)
        print_opt(out, &pg_config__app.opts[i], true);
    fprintf(out, "\nKeys of each object in an app's \"webhooks\":\n");
    for (size_t i = 0; i < pg_config__hook.n; i++)
        print_opt(out, &pg_config__hook.opts[i], false);
}
