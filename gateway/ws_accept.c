/* ws_accept.c - listener thread (see ws_accept.h). Thread: pg-accept. */
#include "ws_accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pg_clock.h"
#include "pg_log.h"

int ws_accept_open(struct ws_acceptor *a, struct pg_server *srv, struct ws_worker *workers,
                   char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->fd = -1;
    a->srv = srv;
    a->workers = workers;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)srv->cfg->port);
    if (inet_pton(AF_INET, srv->cfg->host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "host \"%s\" is not an IPv4 address", srv->cfg->host);
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s:%d: %s", srv->cfg->host, srv->cfg->port,
                 strerror(e));
        close(fd);
        return -e;
    }
    a->fd = fd;
    return 0;
}

static unsigned pick(struct ws_acceptor *a)
{
    unsigned n = a->srv->nworkers, best = a->next % n;
    long best_load = atomic_load(&a->workers[best].load);
    for (unsigned i = 1; i < n; i++) {
        unsigned w = (a->next + i) % n;
        long l = atomic_load(&a->workers[w].load);
        if (l < best_load) {
            best = w;
            best_load = l;
        }
    }
    a->next = best + 1;
    return best;
}

static void dispatch(struct ws_acceptor *a, int fd, bool tls)
{
    struct pg_bus_item *it = pg_bus_item_new(PG_BUS_ADOPT, NULL, 0);
    if (!it) {
        close(fd);
        return;
    }
    it->fd = fd;
    it->tls = tls;
    if (pg_bus_push(a->srv->bus, pick(a), it) < 0)
        close(fd); /* the item was freed by the bus; the fd is ours */
}

/* Accepts one connection; returns its fd, -1 to retry, -2 when the listener is gone. */
static int accept_one(struct ws_acceptor *a)
{
    int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (atomic_load(&a->srv->stopping))
            return -2;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            PG_LOG(PG_LOG_WARN, "accept", "accept: %s; pausing 100 ms", strerror(errno));
            usleep(100 * 1000);
            return -1;
        }
        if (errno == EINVAL || errno == EBADF)
            return -2; /* listen socket shut down */
        return -1;     /* EINTR, ECONNABORTED, EAGAIN, ... */
    }
    if (atomic_load(&a->srv->stopping)) {
        close(fd);
        return -2;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Plain listener: accept and hand over. */
static void run_plain(struct ws_acceptor *a)
{
    for (;;) {
        int fd = accept_one(a);
        if (fd == -2)
            break;
        if (fd >= 0)
            dispatch(a, fd, false);
    }
}

#define SNIFF_TIMEOUT_MS 10000
#define SNIFF_MAX 4096

/* TLS listener: new sockets wait in epoll until their first byte arrives; 0x16 (a TLS handshake
 * record) means TLS, anything else plain HTTP. Clients that send nothing are dropped after 10 s.
 * The acceptor never blocks on one slow client. */
static void run_sniff(struct ws_acceptor *a)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        PG_LOG(PG_LOG_ERROR, "accept", "epoll_create1: %s", strerror(errno));
        return;
    }
    int flags = fcntl(a->fd, F_GETFL);
    fcntl(a->fd, F_SETFL, flags | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = a->fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, a->fd, &ev);
    struct pending {
        int fd;
        int64_t since;
    } *pend = calloc(SNIFF_MAX, sizeof *pend);
    size_t npend = 0;
    bool stop = pend == NULL;
    while (!stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 1000);
        int64_t now = pg_now_ms();
        for (int i = 0; i < n && !stop; i++) {
            int fd = evs[i].data.fd;
            if (fd == a->fd) {
                for (int k = 0; k < 64; k++) {
                    int nfd = accept_one(a);
                    if (nfd == -2)
                        stop = true;
                    if (nfd < 0)
                        break;
                    if (npend == SNIFF_MAX) {
                        close(nfd); /* over the limit of connections still silent */
                        continue;
                    }
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = nfd};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, nfd, &cev) < 0) {
                        close(nfd);
                        continue;
                    }
                    pend[npend].fd = nfd;
                    pend[npend++].since = now;
                }
                continue;
            }
            unsigned char b;
            ssize_t r = recv(fd, &b, 1, MSG_PEEK);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            for (size_t k = 0; k < npend; k++)
                if (pend[k].fd == fd) {
                    pend[k] = pend[--npend];
                    break;
                }
            if (r == 1)
                dispatch(a, fd, b == 0x16);
            else
                close(fd);
        }
        for (size_t k = 0; k < npend;) {
            if (now - pend[k].since >= SNIFF_TIMEOUT_MS || stop) {
                epoll_ctl(ep, EPOLL_CTL_DEL, pend[k].fd, NULL);
                close(pend[k].fd);
                pend[k] = pend[--npend];
            } else {
                k++;
            }
        }
    }
    free(pend);
    close(ep);
}

static void *run(void *arg)
{
    struct ws_acceptor *a = arg;
    pthread_setname_np(pthread_self(), "pg-accept");
    if (a->srv->cfg->tls.cert)
        run_sniff(a);
    else
        run_plain(a);
    return NULL;
}

int ws_accept_start(struct ws_acceptor *a)
{
    int rc = pthread_create(&a->thread, NULL, run, a);
    if (rc)
        return -rc;
    a->started = true;
    return 0;
}

void ws_accept_stop(struct ws_acceptor *a)
{
    if (a->fd >= 0)
        shutdown(a->fd, SHUT_RDWR);
    if (a->started)
        pthread_join(a->thread, NULL);
    a->started = false;
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}
