/* Open-loop load generator for POST /alerts, without coordinated omission.

       openloop URL RATE SECONDS [CONNECTIONS [BODIES]]  ->  one JSON line of results

   Request n is scheduled at start + n/RATE and goes to connection n % CONNECTIONS
   (default 128). Each connection is a thread with a blocking keep-alive HTTP/1.1 socket
   (TCP_NODELAY) that sleeps until its next scheduled time (absolute, CLOCK_MONOTONIC),
   sends, and reads the whole response. Latency runs from the scheduled time to the end
   of the response, so a request sent late (its connection still busy) is charged for
   the wait, as in wrk2. Errors: a non-2xx status, a connect, send or read failure, a
   malformed response, no complete response 10 s after the send, and any request not
   finished by start + SECONDS + 10 s (the run never lasts longer than that). A
   connection is reopened after an error. With BODIES, a file of one webhook body a line
   (bench/mix.py writes one), request n sends line n; it must hold RATE * SECONDS lines.
   Without it, every request carries one new alert.

   Only loopback targets are accepted. Build: gcc -O2 -pthread -o openloop openloop.c
   Written for bench/run.py; libc and pthreads only. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONNECTIONS 128
#define MAX_CONNECTIONS 4096
#define RESPONSE_TIMEOUT_NS 10000000000LL /* 10 s after the send */
#define GRACE_NS 10000000000LL            /* after start + SECONDS */
#define LEAD_NS 200000000LL               /* connect everything before the first request */
#define HEADER_BYTES 512
#define READ_BYTES 16384

typedef int64_t ns_t;

static struct {
    char host[256];    /* for the Host header, as written in the URL */
    char path[1024];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double rate;
    long total;
    int connections;
    ns_t start, hard_end;
    uint64_t seed;
    char run_id[9];
    double *latency; /* seconds per request; NAN for an error */
    char **bodies;   /* BODIES' lines, NULL without it */
    size_t *body_len;
    size_t longest;
} g;

struct conn {
    pthread_t thread;
    int index;
    int fd;
    long errors;
    char buf[READ_BYTES];
    size_t have, pos; /* bytes in buf, bytes of them consumed */
    char *req;
    size_t req_cap;
};

static ns_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ns_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(ns_t t) {
    struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static ns_t scheduled(long n) { return g.start + (ns_t)((double)n * 1e9 / g.rate); }

static _Noreturn void die(const char *msg) {
    fprintf(stderr, "openloop: %s\n", msg);
    exit(2);
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* ---- URL and address ---------------------------------------------------------- */

static int loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

static void parse_url(const char *url) {
    if (strncasecmp(url, "http://", 7) != 0)
        die("the URL must start with http:// (no TLS)");
    const char *p = url + 7;
    size_t authority = strcspn(p, "/?#");
    if (authority == 0 || authority >= sizeof g.host)
        die("the URL has no host");
    memcpy(g.host, p, authority);
    g.host[authority] = '\0';
    const char *rest = p + authority;
    if (*rest == '/')
        snprintf(g.path, sizeof g.path, "%.*s", (int)strcspn(rest, "#"), rest);
    else
        snprintf(g.path, sizeof g.path, "/%.*s", (int)strcspn(rest, "#"), rest);
    if (strchr(g.host, '@'))
        die("credentials in the URL are not supported");

    char name[256], port[16] = "80";
    if (g.host[0] == '[') {
        const char *close = strchr(g.host, ']');
        if (!close)
            die("bad IPv6 address in the URL");
        snprintf(name, sizeof name, "%.*s", (int)(close - g.host - 1), g.host + 1);
        if (close[1] == ':')
            snprintf(port, sizeof port, "%s", close + 2);
        else if (close[1] != '\0')
            die("bad host in the URL");
    } else {
        const char *colon = strchr(g.host, ':');
        if (colon) {
            snprintf(name, sizeof name, "%.*s", (int)(colon - g.host), g.host);
            snprintf(port, sizeof port, "%s", colon + 1);
        } else {
            snprintf(name, sizeof name, "%s", g.host);
        }
    }
    if (strcmp(name, "127.0.0.1") != 0 && strcasecmp(name, "localhost") != 0 &&
        strcmp(name, "::1") != 0)
        die("open-loop load goes to loopback addresses only (127.0.0.1, localhost, ::1)");
    if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port))
        die("bad port in the URL");

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
    struct addrinfo *res;
    if (getaddrinfo(name, port, &hints, &res) != 0 || !res)
        die("cannot resolve the host");
    /* localhost may name both ::1 and 127.0.0.1: use the first that accepts. */
    struct addrinfo *chosen = NULL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (!loopback(ai->ai_addr))
            die("the host does not resolve to a loopback address");
        if (!chosen) {
            int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                chosen = ai;
            if (fd >= 0)
                close(fd);
        }
    }
    if (!chosen)
        chosen = res; /* nothing listens: every request will count as an error */
    memcpy(&g.addr, chosen->ai_addr, chosen->ai_addrlen);
    g.addrlen = chosen->ai_addrlen;
    freeaddrinfo(res);
}

/* ---- one connection --------------------------------------------------------- */

static void disconnect(struct conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->have = c->pos = 0;
}

static int reconnect(struct conn *c) {
    disconnect(c);
    int fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10}; /* bounds connect() and send() */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&g.addr, g.addrlen) != 0) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    return 0;
}

/* An idle keep-alive connection the server has closed (or that has stray bytes) is
   not worth sending on: reopen it before the request rather than count an error. */
static int ready(struct conn *c) {
    if (c->fd >= 0) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
        if (poll(&pfd, 1, 0) != 0 || c->have != c->pos)
            disconnect(c);
    }
    return c->fd >= 0 ? 0 : reconnect(c);
}

static int send_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Refill the buffer, waiting until the deadline at most. 0 on data, -1 otherwise. */
static int fill(struct conn *c, ns_t deadline) {
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->have - c->pos);
        c->have -= c->pos;
        c->pos = 0;
    }
    if (c->have == sizeof c->buf)
        return -1; /* a line longer than the buffer */
    for (;;) {
        ns_t left = deadline - now_ns();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue; /* timed out: the loop re-checks the deadline */
        ssize_t got = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        c->have += (size_t)got;
        return 0;
    }
}

/* The next CRLF-terminated line, NUL-terminated in place (CRLF removed), or NULL. */
static char *read_line(struct conn *c, ns_t deadline) {
    for (;;) {
        char *start = c->buf + c->pos;
        char *lf = memchr(start, '\n', c->have - c->pos);
        if (lf) {
            c->pos = (size_t)(lf - c->buf) + 1;
            *lf = '\0';
            if (lf > start && lf[-1] == '\r')
                lf[-1] = '\0';
            return start;
        }
        if (fill(c, deadline) != 0)
            return NULL;
    }
}

static int skip_bytes(struct conn *c, unsigned long long n, ns_t deadline) {
    while (n > 0) {
        if (c->pos == c->have) {
            c->pos = c->have = 0;
            if (fill(c, deadline) != 0)
                return -1;
        }
        size_t take = c->have - c->pos;
        if (take > n)
            take = (size_t)n;
        c->pos += take;
        n -= take;
    }
    return 0;
}

/* Read one whole response. Returns the status code, or -1 on any failure. Sets
   *keep to 0 when the connection cannot carry another request. */
static int read_response(struct conn *c, ns_t deadline, int *keep) {
    int status;
    long long length;
    int chunked, close_after;
    do { /* skip any 1xx interim responses */
        char *line = read_line(c, deadline);
        if (!line || strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12)
            return -1;
        status = atoi(line + 9);
        close_after = line[7] == '0'; /* HTTP/1.0 */
        length = -1;
        chunked = 0;
        for (;;) {
            char *h = read_line(c, deadline);
            if (!h)
                return -1;
            if (*h == '\0')
                break;
            char *colon = strchr(h, ':');
            if (!colon)
                return -1;
            *colon = '\0';
            char *v = colon + 1;
            v += strspn(v, " \t");
            if (strcasecmp(h, "Content-Length") == 0) {
                char *end;
                errno = 0;
                length = strtoll(v, &end, 10);
                if (errno || end == v || length < 0)
                    return -1;
            } else if (strcasecmp(h, "Transfer-Encoding") == 0) {
                chunked = strcasestr(v, "chunked") != NULL;
            } else if (strcasecmp(h, "Connection") == 0) {
                if (strcasestr(v, "close"))
                    close_after = 1;
                else if (strcasestr(v, "keep-alive"))
                    close_after = 0;
            }
        }
    } while (status >= 100 && status < 200);

    *keep = !close_after;
    if (status == 204 || status == 304) {
        /* no body */
    } else if (chunked) {
        for (;;) {
            char *line = read_line(c, deadline);
            if (!line)
                return -1;
            char *end;
            errno = 0;
            unsigned long long size = strtoull(line, &end, 16);
            if (errno || end == line)
                return -1;
            if (size == 0) {
                for (;;) { /* trailers up to the empty line */
                    char *t = read_line(c, deadline);
                    if (!t)
                        return -1;
                    if (*t == '\0')
                        break;
                }
                break;
            }
            if (skip_bytes(c, size, deadline) != 0)
                return -1;
            char *crlf = read_line(c, deadline);
            if (!crlf || *crlf != '\0')
                return -1;
        }
    } else if (length >= 0) {
        if (skip_bytes(c, (unsigned long long)length, deadline) != 0)
            return -1;
    } else {
        /* body until the server closes: read to EOF */
        for (;;) {
            c->pos = c->have = 0;
            ns_t left = deadline - now_ns();
            if (left <= 0)
                return -1;
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            int r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
            if (r <= 0)
                continue;
            ssize_t got = recv(c->fd, c->buf, sizeof c->buf, 0);
            if (got == 0)
                break;
            if (got < 0 && errno != EINTR)
                return -1;
        }
        *keep = 0;
    }
    return status;
}

/* Line n of BODIES, or else one new alert, as the Python generator sent. */
static size_t build_request(struct conn *c, long n) {
    char fresh[2048];
    const char *body = fresh;
    int blen;
    if (g.bodies) {
        body = g.bodies[n];
        blen = (int)g.body_len[n];
    } else {
        char name[64];
        snprintf(name, sizeof name, "Open%s-%ld", g.run_id, n);
        /* splitmix64 is a bijection, so seed + n gives a distinct fingerprint per request */
        unsigned long long fp = splitmix64(g.seed + (uint64_t)n);
        blen = snprintf(
            fresh, sizeof fresh,
            "{\"version\": \"4\", \"receiver\": \"bench\", \"status\": \"firing\", "
            "\"groupKey\": \"{}:{alertname=\\\"%s\\\"}\", \"groupLabels\": {\"alertname\": \"%s\"}, "
            "\"commonLabels\": {}, \"commonAnnotations\": {}, \"externalURL\": \"http://am\", "
            "\"truncatedAlerts\": 0, \"alerts\": [{\"status\": \"firing\", \"labels\": "
            "{\"alertname\": \"%s\", \"instance\": \"i1\", \"severity\": \"warning\"}, "
            "\"annotations\": {\"summary\": \"bench\"}, \"startsAt\": \"2026-11-26T10:00:00.123Z\", "
            "\"endsAt\": \"0001-01-01T00:00:00Z\", \"generatorURL\": \"\", "
            "\"fingerprint\": \"%016llx\"}]}",
            name, name, name, fp);
        if (blen < 0 || (size_t)blen >= sizeof fresh)
            die("request does not fit the buffer");
    }
    int len = snprintf(c->req, c->req_cap,
                       "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%.*s",
                       g.path, g.host, blen, blen, body);
    if (len < 0 || (size_t)len >= c->req_cap)
        die("request does not fit the buffer");
    return (size_t)len;
}

/* BODIES into memory, a line each (without its newline); at least g.total of them. */
static void load_bodies(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open BODIES");
    g.bodies = malloc(sizeof(char *) * (size_t)(g.total > 0 ? g.total : 1));
    g.body_len = malloc(sizeof(size_t) * (size_t)(g.total > 0 ? g.total : 1));
    if (!g.bodies || !g.body_len)
        die("out of memory");
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    ssize_t got;
    while (n < g.total && (got = getline(&line, &cap, f)) > 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            got--;
        g.bodies[n] = malloc((size_t)got + 1);
        if (!g.bodies[n])
            die("out of memory");
        memcpy(g.bodies[n], line, (size_t)got);
        g.bodies[n][got] = 0;
        g.body_len[n] = (size_t)got;
        if ((size_t)got > g.longest)
            g.longest = (size_t)got;
        n++;
    }
    free(line);
    fclose(f);
    if (n < g.total)
        die("BODIES holds fewer lines than RATE * SECONDS requests");
}

static void *worker(void *arg) {
    struct conn *c = arg;
    if (g.start - now_ns() > 0)
        reconnect(c); /* a failure here is retried at the first request */
    for (long n = c->index; n < g.total; n += g.connections) {
        ns_t at = scheduled(n);
        size_t len = build_request(c, n);
        sleep_until(at);
        ns_t sent = now_ns();
        if (sent >= g.hard_end) { /* the run is over: the rest were never started */
            for (; n < g.total; n += g.connections)
                c->errors++;
            break;
        }
        int keep = 0, status = -1;
        if (ready(c) == 0 && send_all(c->fd, c->req, len) == 0) {
            ns_t deadline = sent + RESPONSE_TIMEOUT_NS;
            if (deadline > g.hard_end)
                deadline = g.hard_end;
            status = read_response(c, deadline, &keep);
        }
        ns_t done = now_ns();
        if (status >= 200 && status < 300) {
            g.latency[n] = (double)(done - at) / 1e9;
        } else {
            c->errors++;
            keep = 0;
        }
        if (!keep)
            disconnect(c);
    }
    disconnect(c);
    return NULL;
}

/* ---- main ------------------------------------------------------------------ */

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double p) {
    if (n == 0)
        return NAN;
    long i = (long)(p / 100 * (double)n);
    return sorted[i < n - 1 ? i : n - 1];
}

static void json_number(const char *key, double v, int last) {
    if (isnan(v))
        printf("\"%s\": NaN", key); /* as Python's json.dumps writes it */
    else
        printf("\"%s\": %.10g", key, v);
    printf(last ? "}\n" : ", ");
}

static uint64_t entropy(void) {
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
            seed = 0;
        close(fd);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return splitmix64(seed ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                      ((uint64_t)getpid() << 40));
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s URL RATE SECONDS [CONNECTIONS [BODIES]]\n", argv[0]);
        return 2;
    }
    char *end;
    g.rate = strtod(argv[2], &end);
    if (*end || !(g.rate > 0) || !isfinite(g.rate))
        die("RATE must be a positive number of requests per second");
    double seconds = strtod(argv[3], &end);
    if (*end || !(seconds > 0) || seconds > 86400)
        die("SECONDS must be a positive number");
    g.connections = DEFAULT_CONNECTIONS;
    if (argc >= 5) {
        long c = strtol(argv[4], &end, 10);
        if (*end || c < 1 || c > MAX_CONNECTIONS)
            die("CONNECTIONS must be between 1 and 4096");
        g.connections = (int)c;
    }
    parse_url(argv[1]);
    double total = g.rate * seconds; /* truncated below, as Python's int() does */
    if (total > 1e9)
        die("too many requests");
    g.total = (long)total;
    if (g.connections > g.total && g.total > 0)
        g.connections = (int)g.total;
    if (argc == 6)
        load_bodies(argv[5]);
    signal(SIGPIPE, SIG_IGN);

    g.seed = entropy();
    snprintf(g.run_id, sizeof g.run_id, "%08llx", (unsigned long long)(g.seed >> 32));
    g.latency = malloc(sizeof(double) * (size_t)(g.total > 0 ? g.total : 1));
    struct conn *conns = calloc((size_t)g.connections, sizeof *conns);
    if (!g.latency || !conns)
        die("out of memory");
    for (long i = 0; i < g.total; i++)
        g.latency[i] = NAN;

    g.start = now_ns() + LEAD_NS;
    g.hard_end = g.start + (ns_t)(seconds * 1e9) + GRACE_NS;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < g.connections; i++) {
        conns[i].index = i;
        conns[i].fd = -1;
        conns[i].req_cap = HEADER_BYTES + sizeof g.path + sizeof g.host + (g.bodies ? g.longest : 2048);
        conns[i].req = malloc(conns[i].req_cap);
        if (!conns[i].req)
            die("out of memory");
        if (pthread_create(&conns[i].thread, &attr, worker, &conns[i]) != 0)
            die("cannot start a connection thread");
    }
    long errors = 0;
    for (int i = 0; i < g.connections; i++) {
        pthread_join(conns[i].thread, NULL);
        errors += conns[i].errors;
    }
    double elapsed = (double)(now_ns() - g.start) / 1e9;

    long ok = 0;
    for (long i = 0; i < g.total; i++)
        if (!isnan(g.latency[i]))
            g.latency[ok++] = g.latency[i];
    qsort(g.latency, (size_t)ok, sizeof(double), by_value);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

    printf("{");
    json_number("offered", g.rate, 0);
    json_number("achieved", (double)ok / elapsed, 0);
    printf("\"requests\": %ld, \"errors\": %ld, \"connections\": %d, ", g.total, errors,
           g.connections);
    json_number("p50_ms", percentile(g.latency, ok, 50) * 1000, 0);
    json_number("p95_ms", percentile(g.latency, ok, 95) * 1000, 0);
    json_number("p99_ms", percentile(g.latency, ok, 99) * 1000, 0);
    json_number("max_ms", ok ? g.latency[ok - 1] * 1000 : NAN, 0);
    json_number("generator_cpu_s", cpu, 0);
    json_number("generator_cpu_per_request_us", g.total ? cpu / (double)g.total * 1e6 : NAN, 1);
    return 0;
}
