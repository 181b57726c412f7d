/* bench_rest.c - pg-bench's publisher: signed trigger requests over keep-alive HTTP/1.1.
 * Thread: one publisher thread per HTTP connection; each claims sequence numbers from a shared
 * atomic counter, so at most cfg.conns requests are in flight. With a rate, event seq is due at
 * t0 + seq / rate; a late connection sends at once and the stamp shows the real send time.
 * Callers: bench_main.c.
 */
#include "bench_rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "pg_md5.h"
#include "pg_rest_sign.h"

#define RESP_CAP 65536
#define IO_TIMEOUT_S 30

/* Owner: one publisher thread. */
struct pub {
    struct bench_rest *r;
    int fd;
    char *req;
    size_t reqcap;
    char *body;
    size_t bodycap;
    char resp[RESP_CAP];
    struct bench_rest_result res;
};

int bench_rest__payload(char *out, size_t outlen, uint64_t seq, uint64_t t_ns, size_t payload)
{
    int n = snprintf(out, outlen, "#pgb:%" PRIu64 ":%" PRIu64 ";", seq, t_ns);
    if (n < 0 || (size_t)n >= outlen)
        return -ENOBUFS;
    size_t len = (size_t)n;
    if (payload > len) {
        if (payload >= outlen)
            return -ENOBUFS;
        memset(out + len, 'x', payload - len);
        len = payload;
        out[len] = '\0';
    }
    return (int)len;
}

__attribute__((format(printf, 2, 3))) static void note(struct pub *p, const char *fmt, ...)
{
    if (p->res.first_problem[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->res.first_problem, sizeof p->res.first_problem, fmt, ap);
    va_end(ap);
}

static int pub_connect(struct pub *p)
{
    const struct bench_rest_cfg *c = &p->r->cfg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->host, &sa.sin_addr) != 1)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    p->fd = fd;
    return 0;
}

static void pub_close(struct pub *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* Builds the signed request for event seq into p->req; returns its length or a negative errno. */
static int build_request(struct pub *p, uint64_t seq, uint64_t t_ns)
{
    const struct bench_rest_cfg *c = &p->r->cfg;
    int off = snprintf(p->body, p->bodycap, "{\"name\":\"%s\",\"channels\":[\"%s\"],\"data\":\"",
                       c->event, c->channel);
    if (off < 0 || (size_t)off >= p->bodycap)
        return -ENOBUFS;
    int dl = bench_rest__payload(p->body + off, p->bodycap - (size_t)off, seq, t_ns, c->payload);
    if (dl < 0 || (size_t)(off + dl) + 3 > p->bodycap)
        return -ENOBUFS;
    size_t blen = (size_t)off + (size_t)dl;
    memcpy(p->body + blen, "\"}", 3);
    blen += 2;

    char md5[33], sig[65], query[256];
    pg_md5_hex(p->body, blen, md5);
    int ql = snprintf(query, sizeof query,
                      "auth_key=%s&auth_timestamp=%lld&auth_version=1.0&body_md5=%s", c->key,
                      (long long)time(NULL), md5);
    if (ql < 0 || (size_t)ql >= sizeof query)
        return -ENOBUFS;
    char path[256];
    int pl = snprintf(path, sizeof path, "/apps/%s/events", c->app_id);
    if (pl < 0 || (size_t)pl >= sizeof path)
        return -ENOBUFS;
    if (pg_rest_sign(c->secret, strlen(c->secret), "POST", path, (size_t)pl, query, (size_t)ql,
                     sig) < 0)
        return -EINVAL;
    int hl = snprintf(p->req, p->reqcap,
                      "POST %s?%s&auth_signature=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      path, query, sig, c->host, c->port, blen);
    if (hl < 0 || (size_t)hl + blen > p->reqcap)
        return -ENOBUFS;
    memcpy(p->req + hl, p->body, blen);
    return hl + (int)blen;
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Value of header name (lower case, with ':') in hdr[0..len), or NULL. */
static const char *header(const char *hdr, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (const char *s = hdr; s && s + nl < hdr + len;) {
        if (strncasecmp(s, name, nl) == 0) {
            s += nl;
            while (*s == ' ')
                s++;
            return s;
        }
        s = memchr(s, '\n', (size_t)(hdr + len - s));
        if (s)
            s++;
    }
    return NULL;
}

/* Length of a complete chunked body at b[0..n), or -1 if more bytes are needed. */
static long chunked_len(const char *b, size_t n)
{
    size_t i = 0;
    for (;;) {
        const char *eol = memmem(b + i, n - i, "\r\n", 2);
        if (!eol)
            return -1;
        unsigned long sz = strtoul(b + i, NULL, 16);
        i = (size_t)(eol - b) + 2;
        if (sz == 0) {
            const char *end = memmem(b + i, n - i, "\r\n", 2); /* no trailers expected */
            return end ? (long)((size_t)(end - b) + 2) : -1;
        }
        if (i + sz + 2 > n)
            return -1;
        i += sz + 2;
    }
}

/* Reads one response. Returns the HTTP status, or a negative errno. *close_after is set when the
 * server will not keep the connection. The body (NUL-terminated) is left at *body. */
static int read_response(struct pub *p, bool *close_after, const char **body)
{
    size_t n = 0;
    long hdr_end = -1, need = -1;
    for (;;) {
        if (hdr_end < 0) {
            const char *e = memmem(p->resp, n, "\r\n\r\n", 4);
            if (e) {
                hdr_end = (long)(e - p->resp) + 4;
                const char *cl = header(p->resp, (size_t)hdr_end, "content-length:");
                const char *te = header(p->resp, (size_t)hdr_end, "transfer-encoding:");
                const char *co = header(p->resp, (size_t)hdr_end, "connection:");
                *close_after = co && strncasecmp(co, "close", 5) == 0;
                if (cl)
                    need = hdr_end + strtol(cl, NULL, 10);
                else if (!te || strncasecmp(te, "chunked", 7) != 0)
                    return -EPROTO; /* body to EOF: not used by the server */
            }
        }
        if (hdr_end >= 0) {
            if (need < 0) {
                long cl = chunked_len(p->resp + hdr_end, n - (size_t)hdr_end);
                if (cl >= 0)
                    need = hdr_end + cl;
            }
            if (need >= 0 && (long)n >= need)
                break;
        }
        if (n >= sizeof p->resp - 1)
            return -EMSGSIZE;
        ssize_t got = recv(p->fd, p->resp + n, sizeof p->resp - 1 - n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        if (got == 0)
            return -ECONNRESET;
        n += (size_t)got;
    }
    p->resp[need] = '\0';
    *body = p->resp + hdr_end;
    int status = 0;
    if (sscanf(p->resp, "HTTP/1.%*d %d", &status) != 1)
        return -EPROTO;
    return status;
}

static void publish_one(struct pub *p, uint64_t seq)
{
    if (p->fd < 0) {
        int rc = pub_connect(p);
        if (rc < 0) {
            p->res.errors++;
            note(p, "REST connect failed: %s", strerror(-rc));
            bench_sleep_ns(10000000); /* do not spin on a refused port */
            return;
        }
    }
    uint64_t t = bench_now_ns();
    int len = build_request(p, seq, t);
    if (len < 0) {
        p->res.errors++;
        note(p, "cannot build request: %s", strerror(-len));
        return;
    }
    if (p->res.first_send_ns == 0 || t < p->res.first_send_ns)
        p->res.first_send_ns = t;
    if (t > p->res.last_send_ns)
        p->res.last_send_ns = t;
    int rc = write_all(p->fd, p->req, (size_t)len);
    p->res.sent++;
    atomic_fetch_add(&p->r->sent, 1);
    if (rc < 0) {
        p->res.errors++;
        note(p, "REST write failed: %s", strerror(-rc));
        pub_close(p);
        return;
    }
    bool close_after = false;
    const char *body = "";
    int status = read_response(p, &close_after, &body);
    double rtt = (double)(bench_now_ns() - t) / 1e6;
    if (rtt > p->res.max_rtt_ms)
        p->res.max_rtt_ms = rtt;
    if (status < 0) {
        p->res.errors++;
        note(p, "REST read failed: %s", strerror(-status));
        pub_close(p);
        return;
    }
    if (status >= 200 && status < 300) {
        p->res.ok++;
    } else {
        p->res.non2xx++;
        note(p, "HTTP %d: %.200s", status, body);
    }
    if (close_after)
        pub_close(p);
}

static void *pub_main(void *arg)
{
    struct pub *p = arg;
    struct bench_rest *r = p->r;
    for (;;) {
        uint64_t seq = atomic_fetch_add(&r->next_seq, 1);
        if (seq >= r->cfg.events)
            break;
        if (r->cfg.rate > 0) {
            uint64_t due = r->t0_ns + (uint64_t)((double)seq * 1e9 / r->cfg.rate);
            uint64_t now = bench_now_ns();
            if (due > now)
                bench_sleep_ns(due - now);
        }
        publish_one(p, seq);
    }
    pub_close(p);
    pthread_mutex_lock(&r->lock);
    struct bench_rest_result *t = &r->res;
    t->sent += p->res.sent;
    t->ok += p->res.ok;
    t->non2xx += p->res.non2xx;
    t->errors += p->res.errors;
    if (p->res.first_send_ns && (!t->first_send_ns || p->res.first_send_ns < t->first_send_ns))
        t->first_send_ns = p->res.first_send_ns;
    if (p->res.last_send_ns > t->last_send_ns)
        t->last_send_ns = p->res.last_send_ns;
    if (p->res.max_rtt_ms > t->max_rtt_ms)
        t->max_rtt_ms = p->res.max_rtt_ms;
    if (!t->first_problem[0] && p->res.first_problem[0])
        memcpy(t->first_problem, p->res.first_problem, sizeof t->first_problem);
    pthread_mutex_unlock(&r->lock);
    free(p->req);
    free(p->body);
    free(p);
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

int bench_rest_start(struct bench_rest *r, const struct bench_rest_cfg *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    if (r->cfg.conns < 1)
        r->cfg.conns = 1;
    if (r->cfg.conns > BENCH_REST_MAX_CONNS)
        r->cfg.conns = BENCH_REST_MAX_CONNS;
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->next_seq, 0);
    atomic_init(&r->sent, 0);
    atomic_init(&r->running, r->cfg.conns);
    r->t0_ns = bench_now_ns();
    for (unsigned i = 0; i < r->cfg.conns; i++) {
        struct pub *p = calloc(1, sizeof *p);
        if (p) {
            p->r = r;
            p->fd = -1;
            p->bodycap = cfg->payload + 512;
            p->reqcap = p->bodycap + 1024;
            p->body = malloc(p->bodycap);
            p->req = malloc(p->reqcap);
        }
        if (!p || !p->body || !p->req || pthread_create(&r->th[i], NULL, pub_main, p) != 0) {
            if (p) {
                free(p->body);
                free(p->req);
            }
            free(p);
            /* stop the threads already started: they find no more work */
            atomic_store(&r->next_seq, r->cfg.events);
            atomic_fetch_sub(&r->running, r->cfg.conns - i);
            r->nth = i;
            bench_rest_join(r, NULL);
            return -ENOMEM;
        }
        r->nth = i + 1;
    }
    return 0;
}

bool bench_rest_done(struct bench_rest *r) { return atomic_load(&r->running) == 0; }

void bench_rest_join(struct bench_rest *r, struct bench_rest_result *out)
{
    for (unsigned i = 0; i < r->nth; i++)
        pthread_join(r->th[i], NULL);
    r->nth = 0;
    pthread_mutex_destroy(&r->lock);
    if (out)
        *out = r->res;
}
