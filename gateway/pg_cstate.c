/* pg_cstate.c - pure pieces of the cluster state (see pg_cstate.h). */
#include "pg_cstate.h"

static void put_info(struct pg_buf *b, const struct pg_cstate_member *m)
{
    if (m->info && m->ilen)
        pg_buf_put(b, m->info, m->ilen);
    else
        pg_buf_put(b, "null", 4);
}

void pg_cstate_roster(struct pg_buf *b, const struct pg_cstate_member *m, size_t n)
{
    pg_buf_puts(b, "{\"presence\":{\"ids\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            pg_buf_put(b, ",", 1);
        pg_buf_json_str(b, m[i].uid, m[i].ulen);
    }
    pg_buf_puts(b, "],\"hash\":{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            pg_buf_put(b, ",", 1);
        pg_buf_json_str(b, m[i].uid, m[i].ulen);
        pg_buf_put(b, ":", 1);
        put_info(b, &m[i]);
    }
    pg_buf_printf(b, "},\"count\":%zu}}", n);
}

void pg_cstate_member_data(struct pg_buf *b, const struct pg_cstate_member *m, int added)
{
    pg_buf_puts(b, "{\"user_id\":");
    pg_buf_json_str(b, m->uid, m->ulen);
    if (added) {
        pg_buf_puts(b, ",\"user_info\":");
        put_info(b, m);
    }
    pg_buf_put(b, "}", 1);
}

int pg_cstate_count_due(long count, int64_t sent_ms, int64_t now_ms)
{
    return count <= 100 || now_ms - sent_ms >= 5000;
}
