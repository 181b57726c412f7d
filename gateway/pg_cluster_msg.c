/* pg_cluster_msg.c - encoding and strict decoding of node-to-node messages (see the header).
 * Thread: any (pure).
 */
#include "pg_cluster_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAGIC "PG1 "
#define MAGIC_LEN (sizeof MAGIC - 1)
#define LEN_DIGITS 7 /* each length field: at most 9,999,999 */

const char *pg_cluster_kind_name(enum pg_cluster_kind k)
{
    switch (k) {
    case PG_CLUSTER_EVENT:
        return "EVENT";
    case PG_CLUSTER_TERMINATE:
        return "TERMINATE";
    case PG_CLUSTER_RESYNC:
        return "RESYNC";
    case PG_CLUSTER_ANNOUNCE:
        return "ANNOUNCE";
    }
    return "?";
}

static bool except_ok(const char *s, size_t n)
{
    if (n > PG_CLUSTER_EXCEPT_MAX || (n && !s))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* The limits of the header, shared by both directions. */
static bool fields_ok(const struct pg_cluster_msg *m)
{
    if (m->alen == 0 || m->alen > PG_CLUSTER_APP_MAX || !m->app)
        return false;
    if (m->clen > PG_CLUSTER_CHANNEL_MAX || (m->clen && !m->channel))
        return false;
    if (!except_ok(m->except, m->elen))
        return false;
    switch (m->kind) {
    case PG_CLUSTER_EVENT:
    case PG_CLUSTER_ANNOUNCE:
        return m->flen >= 1 && m->flen <= PG_CLUSTER_FRAME_MAX && m->frame;
    case PG_CLUSTER_TERMINATE:
        return m->elen == 0 && m->flen == 0;
    case PG_CLUSTER_RESYNC:
        return m->elen == 0 && m->clen == 0 && m->flen == 0;
    }
    return false;
}

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

size_t pg_cluster_msg_size(const struct pg_cluster_msg *m)
{
    /* "PG1 " origin ' ' kind ' ' alen ' ' elen ' ' clen '\n' */
    return MAGIC_LEN + 16 + 1 + strlen(pg_cluster_kind_name(m->kind)) + 1 + digits(m->alen) + 1 +
           digits(m->elen) + 1 + digits(m->clen) + 1 + m->alen + m->elen + m->clen + m->flen;
}

int pg_cluster_msg_encode(const struct pg_cluster_msg *m, char *out, size_t cap, size_t *outlen)
{
    if (!fields_ok(m))
        return -EINVAL;
    size_t need = pg_cluster_msg_size(m);
    if (cap < need)
        return -ENOBUFS;
    char head[PG_CLUSTER_HEADER_MAX + 1];
    int hn =
        snprintf(head, sizeof head, MAGIC "%016llx %s %zu %zu %zu\n", (unsigned long long)m->origin,
                 pg_cluster_kind_name(m->kind), m->alen, m->elen, m->clen);
    if (hn < 0 || (size_t)hn >= sizeof head)
        return -EINVAL; /* cannot happen within the limits */
    char *p = out;
    memcpy(p, head, (size_t)hn);
    p += hn;
    memcpy(p, m->app, m->alen);
    p += m->alen;
    if (m->elen)
        memcpy(p, m->except, m->elen);
    p += m->elen;
    if (m->clen)
        memcpy(p, m->channel, m->clen);
    p += m->clen;
    if (m->flen)
        memcpy(p, m->frame, m->flen);
    p += m->flen;
    *outlen = (size_t)(p - out);
    return 0;
}

/* ---- decoding: a cursor over the header line ---------------------------------------------- */

struct cur {
    const char *p, *end; /* end: the header's '\n' */
};

static bool eat(struct cur *c, char ch)
{
    if (c->p >= c->end || *c->p != ch)
        return false;
    c->p++;
    return true;
}

static bool hex16(struct cur *c, uint64_t *out)
{
    uint64_t v = 0;
    if (c->end - c->p < 16)
        return false;
    for (int i = 0; i < 16; i++) {
        char ch = *c->p++;
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* A decimal length: 1 to LEN_DIGITS digits, no leading zero unless it is "0". */
static bool dec(struct cur *c, size_t *out)
{
    size_t v = 0, n = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (++n > LEN_DIGITS || (n == 2 && v == 0))
            return false;
        v = v * 10 + (size_t)(*c->p++ - '0');
    }
    if (n == 0)
        return false;
    *out = v;
    return true;
}

static bool word(struct cur *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* "PG<digits> " of a version other than 1: a node speaking another format. */
static bool other_version(const char *s, size_t len)
{
    size_t i = 2;
    if (len < 4 || s[0] != 'P' || s[1] != 'G')
        return false;
    while (i < len && i < 12 && s[i] >= '0' && s[i] <= '9')
        i++;
    return i > 2 && i < len && s[i] == ' ';
}

int pg_cluster_msg_decode(struct pg_cluster_msg *m, const char *s, size_t len)
{
    memset(m, 0, sizeof *m);
    if (!s)
        return -EINVAL;
    if (len < MAGIC_LEN || memcmp(s, MAGIC, MAGIC_LEN) != 0)
        return other_version(s, len) ? -EPROTONOSUPPORT : -EINVAL;
    const char *nl = memchr(s, '\n', len < PG_CLUSTER_HEADER_MAX ? len : PG_CLUSTER_HEADER_MAX);
    if (!nl)
        return -EINVAL;
    struct cur c = {s + MAGIC_LEN, nl};
    if (!hex16(&c, &m->origin) || !eat(&c, ' '))
        return -EINVAL;
    if (word(&c, "EVENT "))
        m->kind = PG_CLUSTER_EVENT;
    else if (word(&c, "TERMINATE "))
        m->kind = PG_CLUSTER_TERMINATE;
    else if (word(&c, "ANNOUNCE "))
        m->kind = PG_CLUSTER_ANNOUNCE;
    else if (word(&c, "RESYNC "))
        m->kind = PG_CLUSTER_RESYNC;
    else
        return -EINVAL;
    if (!dec(&c, &m->alen) || !eat(&c, ' ') || !dec(&c, &m->elen) || !eat(&c, ' ') ||
        !dec(&c, &m->clen) || c.p != c.end)
        return -EINVAL;

    /* The body: every length was capped at 7 digits, so these sums cannot overflow. */
    const char *body = nl + 1;
    size_t blen = len - (size_t)(body - s);
    if (m->alen + m->elen + m->clen > blen)
        return -EINVAL;
    m->app = body;
    m->except = body + m->alen;
    m->channel = m->except + m->elen;
    m->frame = m->channel + m->clen;
    m->flen = blen - m->alen - m->elen - m->clen;
    if (!m->elen)
        m->except = NULL;
    if (!fields_ok(m)) {
        memset(m, 0, sizeof *m);
        return -EINVAL;
    }
    return 0;
}
