/* bench_ws_epoll.c - pg-bench transport on plain non-blocking sockets and one epoll set: the
 * RFC 6455 client side needed here (upgrade, masked text frames out, text/continuation/ping/close
 * frames in), nothing more. Thread: the service thread. Callers: bench_ws.c through
 * bench_ws__epoll_ops.
 *
 * Why not lws: its default poll backend scans all N descriptors on every wakeup, which at
 * N = 10,000 costs the client more CPU than the server spends delivering (see BENCHMARKS.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_ws_int.h"

#define MAX_EVENTS 1024
#define RX_CAP (256u * 1024u) /* largest frame accepted, and one read */

/* RFC 6455 section 1.3 sample key and its accept value; the same key on every connection is fine
 * for a load generator (the key only proves the server understood the upgrade). */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static char rx[RX_CAP]; /* service thread only */
static uint32_t mask_state = 0x9e3779b9u;

static uint32_t next_mask(void)
{
    mask_state ^= mask_state << 13; /* xorshift32: masks need not be secret here */
    mask_state ^= mask_state >> 17;
    mask_state ^= mask_state << 5;
    return mask_state;
}

static void ep_close(struct bench_ws *b, unsigned i, const char *why)
{
    struct bench_conn *c = &b->conns[i];
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->rlen = 0;
    c->wlen = 0;
    bench_ws__gone(b, i, why);
}

static int wbuf_append(struct bench_conn *c, const void *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        size_t cap = (c->wlen + n) * 2 + 256;
        char *nb = realloc(c->wbuf, cap);
        if (!nb)
            return -ENOMEM;
        c->wbuf = nb;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    return 0;
}

/* Appends one masked client frame. */
static int frame_append(struct bench_conn *c, unsigned opcode, const void *payload, size_t len)
{
    unsigned char h[14];
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[hl++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(len >> 8);
        h[hl++] = (unsigned char)len;
    } else {
        return -EMSGSIZE; /* the bench never sends that much */
    }
    uint32_t m = next_mask();
    unsigned char mk[4] = {(unsigned char)(m >> 24), (unsigned char)(m >> 16),
                           (unsigned char)(m >> 8), (unsigned char)m};
    memcpy(h + hl, mk, 4);
    hl += 4;
    if (wbuf_append(c, h, hl) < 0 || wbuf_append(c, payload, len) < 0)
        return -ENOMEM;
    unsigned char *p = (unsigned char *)c->wbuf + c->wlen - len;
    for (size_t k = 0; k < len; k++)
        p[k] ^= mk[k & 3];
    return 0;
}

/* Writes what the socket takes; watches EPOLLOUT only while something is left. */
static void ep_write(struct bench_ws *b, unsigned i)
{
    struct bench_conn *c = &b->conns[i];
    size_t off = 0;
    while (off < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            ep_close(b, i, strerror(errno));
            return;
        }
        off += (size_t)w;
    }
    memmove(c->wbuf, c->wbuf + off, c->wlen - off);
    c->wlen -= off;
    struct epoll_event ev = {.events = EPOLLIN | (c->wlen ? EPOLLOUT : 0u), .data.u32 = i};
    epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void ep_flush(struct bench_ws *b, unsigned i)
{
    struct bench_conn *c = &b->conns[i];
    if (c->fd < 0 || !c->upgraded)
        return;
    int rc = 0;
    if (c->want_subscribe)
        rc = frame_append(c, 0x1, b->subscribe, b->subscribe_len);
    if (rc == 0 && c->want_pong)
        rc = frame_append(c, 0x1, bench_ws__pong, bench_ws__pong_len);
    c->want_subscribe = c->want_pong = false;
    if (rc < 0) {
        ep_close(b, i, "out of memory");
        return;
    }
    ep_write(b, i);
}

static void ep_start(struct bench_ws *b, unsigned i)
{
    struct bench_conn *c = &b->conns[i];
    int port;
    const char *hosthdr = b->hosthdr[bench_ws__target(b, i, &port)];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, b->cfg.host, &sa.sin_addr) != 1) {
        bench_ws__gone(b, i, "--ws-host is not an IPv4 address");
        return;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        ep_close(b, i, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (b->ifaces) {
        struct sockaddr_in la = {.sin_family = AF_INET};
        inet_pton(AF_INET, b->ifaces[i % b->cfg.source_addrs], &la.sin_addr);
#ifdef IP_BIND_ADDRESS_NO_PORT
        /* pick the port at connect(), per destination, so K addresses give K port ranges */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
        if (bind(c->fd, (struct sockaddr *)&la, sizeof la) < 0) {
            ep_close(b, i, strerror(errno));
            return;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        ep_close(b, i, strerror(errno));
        return;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                     "Origin: http://%s\r\n\r\n",
                     b->path, hosthdr, hosthdr);
    if (n < 0 || (size_t)n >= sizeof req || wbuf_append(c, req, (size_t)n) < 0) {
        ep_close(b, i, "handshake request too long");
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        ep_close(b, i, strerror(errno));
}

/* Checks the 101 answer at p[0..n); returns the header length, 0 if incomplete, -1 if refused. */
static long parse_upgrade(struct bench_ws *b, unsigned i, const char *p, size_t n)
{
    const char *e = memmem(p, n, "\r\n\r\n", 4);
    if (!e) {
        if (n < RX_CAP)
            return 0;
        ep_close(b, i, "upgrade answer too long");
        return -1;
    }
    size_t hl = (size_t)(e - p) + 4;
    if (n < 12 || strncmp(p, "HTTP/1.1 101", 12) != 0) {
        const char *eol = memchr(p, '\r', hl);
        char why[160];
        snprintf(why, sizeof why, "upgrade refused: %.*s", (int)(eol ? eol - p : 0) & 127, p);
        ep_close(b, i, why);
        return -1;
    }
    if (!memmem(p, hl, WS_ACCEPT, sizeof WS_ACCEPT - 1)) {
        ep_close(b, i, "bad Sec-WebSocket-Accept");
        return -1;
    }
    b->conns[i].upgraded = true;
    return (long)hl;
}

/* Handles the frames at p[0..n); returns bytes consumed, or -1 when the connection was closed. */
static long parse_frames(struct bench_ws *b, unsigned i, const unsigned char *p, size_t n)
{
    size_t off = 0;
    while (n - off >= 2) {
        const unsigned char *f = p + off;
        size_t avail = n - off, hl = 2;
        uint64_t len = f[1] & 0x7f;
        if (f[1] & 0x80) {
            ep_close(b, i, "server sent a masked frame");
            return -1;
        }
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)f[2] << 8) | f[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int k = 2; k < 10; k++)
                len = (len << 8) | f[k];
            hl = 10;
        }
        if (hl + len > RX_CAP) {
            ep_close(b, i, "frame larger than the receive buffer");
            return -1;
        }
        if (avail < hl + len)
            break;
        const char *pl = (const char *)f + hl;
        bool fin = f[0] & 0x80;
        switch (f[0] & 0x0f) {
        case 0x0: /* continuation: only text messages are ever fragmented here */
        case 0x1:
            bench_ws__data(b, i, pl, (size_t)len, fin);
            break;
        case 0x8: {
            int code = len >= 2 ? (f[hl] << 8) | f[hl + 1] : 0;
            char why[160];
            snprintf(why, sizeof why, "server closed with %d \"%.*s\"", code,
                     len > 2 ? (int)(len - 2) & 127 : 0, len > 2 ? pl + 2 : "");
            ep_close(b, i, why);
            return -1;
        }
        case 0x9:
            if (frame_append(&b->conns[i], 0xA, pl, (size_t)len) == 0)
                ep_write(b, i);
            if (b->conns[i].fd < 0)
                return -1;
            break;
        case 0xA:
            break;
        default:
            b->st.bad_frames++; /* binary or reserved opcode */
            break;
        }
        if (b->conns[i].fd < 0)
            return -1;
        off += hl + (size_t)len;
    }
    return (long)off;
}

static void ep_read(struct bench_ws *b, unsigned i)
{
    struct bench_conn *c = &b->conns[i];
    size_t have = c->rlen;
    if (have)
        memcpy(rx, c->rbuf, have);
    ssize_t got = recv(c->fd, rx + have, RX_CAP - have, 0);
    if (got < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            ep_close(b, i, strerror(errno));
        return;
    }
    if (got == 0) {
        ep_close(b, i, "server closed the TCP connection");
        return;
    }
    size_t n = have + (size_t)got, off = 0;
    if (!c->upgraded) {
        long hl = parse_upgrade(b, i, rx, n);
        if (hl < 0)
            return;
        off = (size_t)hl;
    }
    if (c->upgraded) {
        long used = parse_frames(b, i, (const unsigned char *)rx + off, n - off);
        if (used < 0)
            return;
        off += (size_t)used;
    }
    c->rlen = n - off;
    if (c->rlen > c->rcap) {
        char *nb = realloc(c->rbuf, c->rlen);
        if (!nb) {
            ep_close(b, i, "out of memory");
            return;
        }
        c->rbuf = nb;
        c->rcap = c->rlen;
    }
    if (c->rlen)
        memcpy(c->rbuf, rx + off, c->rlen);
}

static int ep_service(struct bench_ws *b, unsigned max_wait_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(b->epfd, evs, MAX_EVENTS, (int)max_wait_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int k = 0; k < n; k++) {
        unsigned i = evs[k].data.u32;
        struct bench_conn *c = &b->conns[i];
        if (c->fd < 0)
            continue;
        if (evs[k].events & EPOLLOUT) {
            int e = 0;
            socklen_t el = sizeof e;
            if (!c->upgraded && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e) {
                ep_close(b, i, strerror(e));
                continue;
            }
            ep_write(b, i);
            if (c->fd < 0)
                continue;
        }
        if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            ep_read(b, i);
    }
    return 0;
}

static int ep_init(struct bench_ws *b, char *err, size_t errlen)
{
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void ep_fini(struct bench_ws *b)
{
    static const unsigned char close_1000[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
    for (unsigned i = 0; i < b->cfg.conns; i++) {
        struct bench_conn *c = &b->conns[i];
        if (c->fd < 0)
            continue;
        if (c->upgraded && c->wlen == 0) /* polite close; a zero mask leaves the code as is */
            (void)!send(c->fd, close_1000, sizeof close_1000, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(c->fd);
        c->fd = -1;
    }
    if (b->epfd >= 0)
        close(b->epfd);
    b->epfd = -1;
}

const struct bench_ws_ops bench_ws__epoll_ops = {
    .init = ep_init,
    .fini = ep_fini,
    .start = ep_start,
    .flush = ep_flush,
    .service = ep_service,
};
