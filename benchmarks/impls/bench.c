/* The physical limit: the same workloads, protocol and checks as the Python
 * implementations (see benchmarks/common.py), in C. Blocking sockets for a single
 * conversation (ping-pong with one connection, bulk, accept); an epoll loop where
 * many connections are live at once (ping-pong with N > 1, fan-in, idle).
 *
 * Compiled at run time by benchmarks/impls/c_native.py with the machine's cc.
 * Usage: bench server|client WORKLOAD --path P [--conns N] [--rounds R] [--size S]
 *        [--total T] [--warm W] [--timeout SECONDS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BACKLOG 4096
#define RECV_SIZE 65536
#define POOL 1021

static const char *role = "", *workload = "", *path = "";
static long conns = 1, rounds = 1000, size = 64, total = 1 << 20, warm = 100;
static double timeout_s = 120.0;

static void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s %s: FAILED: ", role, workload);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (errno) fprintf(stderr, " (%s)", strerror(errno));
    fputc('\n', stderr);
    fflush(stdout);
    _exit(1);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAILED: timed out\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: the C side's own deterministic bytes. */
static void fill(unsigned char *buf, size_t n, uint64_t seed) {
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0) {
            x += 0x9E3779B97F4A7C15ull;
        }
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        buf[i] = (unsigned char)(z >> (8 * (i % 8)));
    }
}

static unsigned char *pool;

static const unsigned char *message(long c, long i) {
    long idx = ((c * 7 + i) % POOL + POOL) % POOL;
    return pool + idx * size;
}

static void write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {  /* a non-blocking socket whose buffer is full */
                fd_set ws;
                FD_ZERO(&ws);
                FD_SET(fd, &ws);
                select(fd + 1, NULL, &ws, NULL, NULL);
                continue;
            }
            die("write");
        }
        p += w;
        n -= (size_t)w;
    }
}

static void read_exact(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("read");
        }
        if (r == 0) { errno = 0; die("connection closed early"); }
        p += r;
        n -= (size_t)r;
    }
}

static int connect_to(void) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
        if (errno != EAGAIN && errno != EINTR) die("connect");
        close(fd);
        usleep(100);
    }
}

static int listen_on(void) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind %s", path);
    if (listen(fd, BACKLOG) < 0) die("listen");
    return fd;
}

static void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    if (f) fclose(f);
    if (kib < 0) die("no VmRSS");
    return kib;
}

static double cpu_mark;

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* The client's clock starts here; so does the CPU time it reports. */
static double start_clock(void) {
    cpu_mark = cpu_now();
    return now();
}

static void ready(void) {
    cpu_mark = cpu_now();
    printf("READY\n");
    fflush(stdout);
}

static void report_client(long ops, long bytes, double seconds) {
    printf("RESULT {\"bytes\": %ld, \"cpu_seconds\": %.6f, \"ops\": %ld, \"seconds\": %.9f}\n",
           bytes, cpu_now() - cpu_mark, ops, seconds);
    fflush(stdout);
}

/* -- bulk pattern -------------------------------------------------------------------- */

static unsigned char *pattern;
static long period;

static void make_pattern(void) {
    long k = (1L << 20) / size + ((1L << 20) % size != 0);
    if (k < 4) k = 4;
    period = size * k;
    pattern = malloc((size_t)period);
    if (!pattern) die("malloc");
    fill(pattern, (size_t)period, 0xB01C + (uint64_t)size);
}

static long checked;

static void check_bulk(const unsigned char *data, long n) {
    if (checked + n > total) { errno = 0; die("bulk: more bytes than were sent"); }
    long pos = 0;
    while (pos < n) {
        long off = (checked + pos) % period;
        long take = n - pos < period - off ? n - pos : period - off;
        if (memcmp(data + pos, pattern + off, (size_t)take)) {
            errno = 0;
            die("bulk: wrong bytes at stream offset %ld", checked + pos);
        }
        pos += take;
    }
    checked += n;
}

/* -- server --------------------------------------------------------------------------- */

static void server_epoll(int lfd) {
    long expected = strcmp(workload, "idle") == 0 ? warm + conns : conns;
    long accepted = 0, closed = 0, moved = 0, ready_n = 0;
    long rss_warm = 0, rss_all = 0;
    int *fds = calloc((size_t)expected + 1, sizeof(int));
    unsigned char *buf = malloc(RECV_SIZE);
    int idle = strcmp(workload, "idle") == 0;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    set_nonblocking(lfd);
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ready();
    while (closed < expected) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait");
        for (int e = 0; e < n; e++) {
            int fd = evs[e].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) {
                        if (errno == EAGAIN || errno == EINTR) break;
                        die("accept");
                    }
                    if (accepted < expected) fds[accepted] = c;
                    accepted++;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    if (idle) {
                        ready_n++;
                        long from = -1, to = -1;
                        if (ready_n == warm) { rss_warm = rss_kib(); from = 0; to = warm; }
                        if (ready_n == warm + conns) { rss_all = rss_kib(); from = warm; to = warm + conns; }
                        for (long i = from; i >= 0 && i < to; i++) write_all(fds[i], "G", 1);
                    }
                }
                continue;
            }
            ssize_t r = read(fd, buf, RECV_SIZE);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die("read");
            }
            if (r == 0) {
                close(fd);
                closed++;
                continue;
            }
            write_all(fd, buf, (size_t)r);
            moved += r;
        }
    }
    if (idle)
        printf("RESULT {\"cpu_seconds\": %.6f, \"accepted\": %ld, \"bytes\": %ld, \"closed\": %ld, \"conns\": %ld, "
               "\"kib_per_conn\": %.4f, \"rss_kib\": %ld, \"rss_warm_kib\": %ld}\n", cpu_now() - cpu_mark,
               accepted, moved, closed, accepted, (double)(rss_all - rss_warm) / conns,
               rss_all, rss_warm);
    else
        printf("RESULT {\"cpu_seconds\": %.6f, \"accepted\": %ld, \"bytes\": %ld, \"closed\": %ld}\n", cpu_now() - cpu_mark, accepted, moved,
               closed);
    fflush(stdout);
}

static void server(void) {
    int lfd = listen_on();
    if (!strcmp(workload, "bulk")) {
        make_pattern();
        ready();
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) die("accept");
        unsigned char *buf = malloc(RECV_SIZE);
        while (checked < total) {
            ssize_t r = read(fd, buf, RECV_SIZE);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) die("bulk: read after %ld bytes", checked);
            check_bulk(buf, r);
        }
        uint64_t ack = __builtin_bswap64((uint64_t)checked);
        write_all(fd, &ack, 8);
        if (read(fd, buf, 1) != 0) { errno = 0; die("bulk: data after the end"); }
        close(fd);
        printf("RESULT {\"cpu_seconds\": %.6f, \"accepted\": 1, \"bytes\": %ld, \"closed\": 1}\n", cpu_now() - cpu_mark, checked);
    } else if (!strcmp(workload, "accept")) {
        ready();
        for (long i = 0; i < conns; i++) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) die("accept");
            unsigned char b = (unsigned char)(i % 251);
            write_all(fd, &b, 1);
            close(fd);
        }
        printf("RESULT {\"cpu_seconds\": %.6f, \"accepted\": %ld, \"bytes\": %ld, \"closed\": %ld}\n", cpu_now() - cpu_mark, conns, conns,
               conns);
    } else if (!strcmp(workload, "pingpong") && conns == 1) {
        ready();
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) die("accept");
        unsigned char *buf = malloc(RECV_SIZE);
        long moved = 0;
        for (;;) {
            ssize_t r = read(fd, buf, RECV_SIZE);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) die("read");
            if (r == 0) break;
            write_all(fd, buf, (size_t)r);
            moved += r;
        }
        close(fd);
        printf("RESULT {\"cpu_seconds\": %.6f, \"accepted\": 1, \"bytes\": %ld, \"closed\": 1}\n", cpu_now() - cpu_mark, moved);
    } else {
        server_epoll(lfd);
        return;
    }
    fflush(stdout);
}

/* -- client --------------------------------------------------------------------------- */

struct peer { int fd; long id, next, end, got; unsigned char *buf; };

/* Drive many conversations at once: each peer has message `next` in flight. */
static void converse_epoll(struct peer *ps, long n, int close_at_end) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[256];
    long done = 0;
    for (long c = 0; c < n; c++) {
        if (ps[c].fd < 0) continue;
        set_nonblocking(ps[c].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ps[c]};
        epoll_ctl(ep, EPOLL_CTL_ADD, ps[c].fd, &ev);
    }
    while (done < n) {
        int k = epoll_wait(ep, evs, 256, -1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) die("epoll_wait");
        for (int e = 0; e < k; e++) {
            struct peer *p = evs[e].data.ptr;
            ssize_t r = read(p->fd, p->buf + p->got, (size_t)(size - p->got));
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die("read");
            }
            if (r == 0) { errno = 0; die("connection %ld closed early", p->id); }
            p->got += r;
            if (p->got < size) continue;
            if (memcmp(p->buf, message(p->id, p->next), (size_t)size)) {
                errno = 0;
                die("connection %ld: echo differs from the message sent", p->id);
            }
            p->got = 0;
            if (++p->next < p->end) {
                write_all(p->fd, message(p->id, p->next), (size_t)size);
            } else {
                epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
                if (close_at_end) close(p->fd);
                done++;
            }
        }
    }
    close(ep);
}

static void client(void) {
    double t0, elapsed;
    if (!strcmp(workload, "pingpong") || !strcmp(workload, "fanin")) {
        pool = malloc((size_t)(POOL * size));
        fill(pool, (size_t)(POOL * size), 0x51C0 + (uint64_t)size);
        long per = rounds / conns;
        unsigned char *buf = malloc((size_t)size);
        struct peer *ps = calloc((size_t)conns, sizeof *ps);
        for (long c = 0; c < conns; c++) {
            ps[c].id = c;
            ps[c].buf = malloc((size_t)size);
            ps[c].end = per;
        }
        if (!strcmp(workload, "pingpong")) {
            for (long c = 0; c < conns; c++) {  /* connect and warm up, before the clock */
                ps[c].fd = connect_to();
                write_all(ps[c].fd, message(c, -1), (size_t)size);
                read_exact(ps[c].fd, buf, (size_t)size);
                if (memcmp(buf, message(c, -1), (size_t)size)) { errno = 0; die("warm-up echo"); }
            }
            t0 = start_clock();
            if (conns == 1) {
                for (long i = 0; i < per; i++) {
                    write_all(ps[0].fd, message(0, i), (size_t)size);
                    read_exact(ps[0].fd, buf, (size_t)size);
                    if (memcmp(buf, message(0, i), (size_t)size)) {
                        errno = 0;
                        die("echo differs from the message sent");
                    }
                }
            } else {
                for (long c = 0; c < conns; c++)
                    write_all(ps[c].fd, message(c, 0), (size_t)size);
                converse_epoll(ps, conns, 0);
            }
            elapsed = now() - t0;
            for (long c = 0; c < conns; c++) close(ps[c].fd);
        } else {
            t0 = start_clock();
            for (long c = 0; c < conns; c++) {
                ps[c].fd = connect_to();
                write_all(ps[c].fd, message(c, 0), (size_t)size);
            }
            converse_epoll(ps, conns, 1);
            elapsed = now() - t0;
        }
        report_client(per * conns, per * conns * size, elapsed);
    } else if (!strcmp(workload, "bulk")) {
        make_pattern();
        long count = total / size, k = period / size;
        int fd = connect_to();
        t0 = start_clock();
        for (long i = 0; i < count; i++) write_all(fd, pattern + (i % k) * size, (size_t)size);
        uint64_t ack;
        read_exact(fd, &ack, 8);
        if ((long)__builtin_bswap64(ack) != total) { errno = 0; die("bulk: wrong acknowledgement"); }
        elapsed = now() - t0;
        close(fd);
        report_client(count, total, elapsed);
    } else if (!strcmp(workload, "accept")) {
        unsigned char b[16];
        t0 = start_clock();
        for (long i = 0; i < conns; i++) {
            int fd = connect_to();
            ssize_t r = read(fd, b, sizeof b);
            if (r != 1 || b[0] != (unsigned char)(i % 251) || read(fd, b, sizeof b) != 0) {
                errno = 0;
                die("accept: connection %ld got the wrong byte or no end of stream", i);
            }
            close(fd);
        }
        elapsed = now() - t0;
        report_client(conns, conns, elapsed);
    } else if (!strcmp(workload, "idle")) {
        int *fds = malloc(sizeof(int) * (size_t)(warm + conns));
        unsigned char b;
        t0 = start_clock();
        for (long i = 0; i < warm; i++) fds[i] = connect_to();
        for (long i = 0; i < warm; i++) {
            read_exact(fds[i], &b, 1);
            if (b != 'G') { errno = 0; die("idle: no go byte"); }
        }
        for (long i = warm; i < warm + conns; i++) fds[i] = connect_to();
        for (long i = warm; i < warm + conns; i++) {
            read_exact(fds[i], &b, 1);
            if (b != 'G') { errno = 0; die("idle: no go byte"); }
        }
        elapsed = now() - t0;
        for (long i = 0; i < warm + conns; i++) close(fds[i]);
        report_client(warm + conns, warm + conns, elapsed);
    } else {
        errno = 0;
        die("unknown workload");
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s server|client WORKLOAD --path P [options]\n", argv[0]);
        return 2;
    }
    role = argv[1];
    workload = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--path")) path = v;
        else if (!strcmp(k, "--conns")) conns = atol(v);
        else if (!strcmp(k, "--rounds")) rounds = atol(v);
        else if (!strcmp(k, "--size")) size = atol(v);
        else if (!strcmp(k, "--total")) total = atol(v);
        else if (!strcmp(k, "--warm")) warm = atol(v);
        else if (!strcmp(k, "--timeout")) timeout_s = atof(v);
        else { fprintf(stderr, "unknown option %s\n", k); return 2; }
    }
    if (!*path || conns < 1 || size < 1 || warm < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(timeout_s * 5));
    errno = 0;
    if (!strcmp(role, "server")) server();
    else client();
    return 0;
}
