/* ws_accept.c - listener thread (see ws_accept.h). Thread: pg-accept. */
#include "ws_accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

static void *run(void *arg)
{
    struct ws_acceptor *a = arg;
    pthread_setname_np(pthread_self(), "pg-accept");
    for (;;) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (atomic_load(&a->srv->stopping))
                break;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                PG_LOG(PG_LOG_WARN, "accept", "accept: %s; pausing 100 ms", strerror(errno));
                usleep(100 * 1000);
                continue;
            }
            if (errno == EINVAL || errno == EBADF)
                break; /* listen socket shut down */
            continue;
        }
        if (atomic_load(&a->srv->stopping)) {
            close(fd);
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct pg_bus_item *it = pg_bus_item_new(PG_BUS_ADOPT, NULL, 0);
        if (!it) {
            close(fd);
            continue;
        }
        it->fd = fd;
        if (pg_bus_push(a->srv->bus, pick(a), it) < 0)
            close(fd); /* the item was freed by the bus; the fd is ours */
    }
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
