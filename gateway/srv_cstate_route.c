/* srv_cstate_route.c - cluster mode: routed ops, answered on this node's reply channel (see
 * srv_redis_int.h, cs_route): a cache replay (srv_cstate_cache.c), a watchlist state
 * (srv_cstate_watch.c), a presence join's or a repeated subscribe's roster (here).
 * Thread: pg-redis.
 *
 * Each routed run carries a sequence number in its answer's header ("<seq>:"). Runs wait in a
 * FIFO in command order; answers come in the same order (Redis runs the scripts in order and
 * delivers one channel's messages in order), so an answer normally matches the head, and anything
 * older still waiting has lost its answer and is answered by this node alone (cs_dropped), as is
 * every run waiting when the link goes (cs_link_lost) or whose script failed (cs_route_error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_buf.h"
#include "pg_cstate.h"
#include "srv_redis_int.h"

/* A routed Q_JOIN / Q_ROSTER's answer: "F" (a new user, the channel full) or "R" then each user id
 * and user_info as "<length>:<bytes>". */
static void roster_answer(struct srv_redis *r, struct qitem *it, const char *a, size_t alen)
{
    if (it->op == Q_JOIN && alen == 1 && a[0] == 'F') {
        cs_post_socket(r, PG_BUS_PRESENCE_FULL, it->w, it->app, qitem_field(it, 1), it->len[1],
                       qitem_field(it, 4), NULL);
        return;
    }
    if (!alen || a[0] != 'R') {
        cs_dropped(r, it);
        return;
    }
    size_t cap = 16, nf = 0;
    const char **fp = malloc(cap * sizeof *fp);
    size_t *fl = malloc(cap * sizeof *fl);
    bool bad = !fp || !fl;
    for (size_t k = 1; !bad && k < alen;) { /* "<len>:<bytes>" fields */
        size_t n = 0, d = 0;
        while (k < alen && a[k] >= '0' && a[k] <= '9' && d < 10) {
            n = n * 10 + (size_t)(a[k++] - '0');
            d++;
        }
        if (!d || k >= alen || a[k] != ':' || n > alen - k - 1) {
            bad = true;
            break;
        }
        if (nf == cap) {
            cap *= 2;
            const char **np = realloc(fp, cap * sizeof *fp);
            if (np)
                fp = np;
            size_t *nl = np ? realloc(fl, cap * sizeof *fl) : NULL;
            if (!nl) {
                bad = true;
                break;
            }
            fl = nl;
        }
        fp[nf] = a + k + 1;
        fl[nf++] = n;
        k += 1 + n;
    }
    size_t nm = nf / 2;
    struct pg_cstate_member *mem = bad || nf % 2 ? NULL : calloc(nm ? nm : 1, sizeof *mem);
    for (size_t i = 0; mem && i < nm; i++)
        mem[i] = (struct pg_cstate_member){fp[2 * i], fl[2 * i], fp[2 * i + 1], fl[2 * i + 1]};
    free(fp);
    free(fl);
    if (!mem) {
        cs_dropped(r, it);
        return;
    }
    struct pg_buf b;
    pg_buf_init(&b);
    pg_cstate_roster(&b, mem, nm);
    free(mem);
    if (!b.oom)
        cs_post_roster(r, it, &b);
    pg_buf_dispose(&b);
}

void cs_route(struct srv_redis *r, struct qitem *it, const char **argv, size_t *argl, int argc)
{
    char head[24];
    it->seq = ++r->route_seq;
    argv[CS_HDR_ARGS] = r->rchan;
    argl[CS_HDR_ARGS] = strlen(r->rchan);
    argl[CS_HDR_ARGS + 1] =
        (size_t)snprintf(head, sizeof head, "%llu:", (unsigned long long)it->seq);
    argv[CS_HDR_ARGS + 1] = head;
    redisAppendCommandArgv(r->pub, argc, argv, argl);
    struct pend *p = srv_redis__pend(r, P_ROUTED, NULL);
    if (!p) {
        cs_dropped(r, it);
        free(it);
        return;
    }
    p->seq = it->seq;
    it->next = NULL;
    if (r->await_tail)
        r->await_tail->next = it;
    else
        r->await_head = it;
    r->await_tail = it;
}

static void answer(struct srv_redis *r, struct qitem *it, const char *a, size_t alen)
{
    if (it->op == Q_CACHE_GET)
        cx_on_answer(r, it, a, alen);
    else if (it->op == Q_WATCH)
        cw_on_answer(r, it, a, alen);
    else
        roster_answer(r, it, a, alen);
}

/* Takes the awaited item with seq out of the list (NULL when it is not there). */
static struct qitem *await_take(struct srv_redis *r, uint64_t seq)
{
    struct qitem **pp = &r->await_head, *prev = NULL;
    while (*pp && (*pp)->seq != seq) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    struct qitem *it = *pp;
    if (!it)
        return NULL;
    *pp = it->next;
    if (r->await_tail == it)
        r->await_tail = prev;
    it->next = NULL;
    return it;
}

void cs_routed(struct srv_redis *r, const char *msg, size_t len)
{
    uint64_t seq = 0;
    size_t k = 0;
    while (k < len && k < 20 && msg[k] >= '0' && msg[k] <= '9')
        seq = seq * 10 + (uint64_t)(msg[k++] - '0');
    if (!k || k >= len || msg[k] != ':')
        return;
    /* Answers come in command order: anything older still waiting lost its answer. */
    while (r->await_head && r->await_head->seq < seq) {
        struct qitem *old = await_take(r, r->await_head->seq);
        cs_dropped(r, old);
        free(old);
    }
    struct qitem *it = r->await_head && r->await_head->seq == seq ? await_take(r, seq) : NULL;
    if (!it)
        return;
    answer(r, it, msg + k + 1, len - k - 1);
    free(it);
}

void cs_route_error(struct srv_redis *r, uint64_t seq)
{
    struct qitem *it = await_take(r, seq);
    if (it) {
        cs_dropped(r, it);
        free(it);
    }
}
