/* pg_msg.c - refcounted frames. Thread: the current holder's. */
#include "pg_msg.h"

#include <stdlib.h>
#include <string.h>

struct pg_msg *pg_msg_new(size_t len)
{
    if (len > UINT32_MAX - PG_MSG_PRE - 1)
        return NULL;
    struct pg_msg *m = malloc(sizeof *m + PG_MSG_PRE + len + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->len = (uint32_t)len;
    m->buf[PG_MSG_PRE + len] = 0;
    return m;
}

struct pg_msg *pg_msg_from(const void *s, size_t len)
{
    struct pg_msg *m = pg_msg_new(len);
    if (m && len)
        memcpy(pg_msg_data(m), s, len);
    return m;
}

struct pg_msg *pg_msg_copy(const struct pg_msg *m)
{
    return pg_msg_from(m->buf + PG_MSG_PRE, m->len);
}

void pg_msg_unref(struct pg_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}
