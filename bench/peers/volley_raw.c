/* Raw stdio driver for the volley sidecar: the smallest possible host, to separate the sidecar's
 * cost from a client library's. Spawns volley, sends `initialize` (one OpenAI-compatible provider
 * "bench" at BASE_URL, limits lifted to the workload), then ONE `gather` or `as_completed` line
 * with N items, and reads the reply (for as_completed: one `item` notification per item, then
 * the response). No JSON parser: outcomes are counted by substring ("ok":true / "ok":false).
 *
 *   volley_raw N CONCURRENCY BASE_URL [--mode gather|as_completed] [--volley PATH] [--socket PATH]
 *              [--ca-file PEM]
 *
 * With --socket, the sidecar is a shared daemon (`volley serve --socket PATH`) and the host talks
 * to it over that Unix socket instead of pipes: the same work, for the cost of shared mode. The
 * daemon is still this process's child, stopped with SIGTERM at the end so wait4 counts its CPU.
 *
 * --ca-file adds `"ca_file"` to the provider (the CA to trust over https://; the sidecar asks for
 * HTTP/2 by ALPN on its own).
 *
 * The sidecar gets `--max-connections-per-host CONCURRENCY`. Prints one JSON line:
 *   wall_s, first_s         work window: from building the request to the last byte of the reply
 *   cpu_s, maxrss_kb        this host process (CPU in the window; RSS peak)
 *   sidecar_cpu_s           the sidecar's whole life (wait4), start-up and exit included
 *   sidecar_cpu_window_s    the sidecar's CPU in the window (/proc ticks, 10 ms resolution)
 *   sidecar_maxrss_kb       the sidecar's peak RSS (wait4)
 * Build: cc -O2 -o volley_raw volley_raw.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/* utime + stime of a live process, in seconds, from /proc (clock-tick resolution). */
static double proc_cpu(pid_t pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* after ") " come fields 3..; utime and stime are fields 14 and 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

typedef struct {
    char *s;
    size_t len, cap;
} buf_t;

static void reserve(buf_t *b, size_t extra) {
    if (b->len + extra + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + extra + 1) cap *= 2;
        b->s = realloc(b->s, cap);
        if (!b->s) { perror("realloc"); exit(3); }
        b->cap = cap;
    }
}

static void put(buf_t *b, const char *s, size_t n) {
    reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            perror("write to volley");
            exit(3);
        }
        s += w;
        n -= (size_t)w;
    }
}

/* Line reader over the sidecar's stdout. Returns a NUL-terminated line (without '\n') valid
 * until the next call, or NULL at EOF. */
typedef struct {
    int fd;
    buf_t b;
    size_t start;
} reader_t;

static char *read_line(reader_t *r, size_t *out_len) {
    for (;;) {
        char *nl = memchr(r->b.s + r->start, '\n', r->b.len - r->start);
        if (nl) {
            char *line = r->b.s + r->start;
            *nl = 0;
            *out_len = (size_t)(nl - line);
            r->start = (size_t)(nl - r->b.s) + 1;
            return line;
        }
        if (r->start > 0) { /* compact */
            memmove(r->b.s, r->b.s + r->start, r->b.len - r->start);
            r->b.len -= r->start;
            r->start = 0;
        }
        reserve(&r->b, 1 << 16);
        ssize_t n = read(r->fd, r->b.s + r->b.len, r->b.cap - r->b.len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        r->b.len += (size_t)n;
        r->b.s[r->b.len] = 0;
    }
}

static long count(const char *hay, const char *needle) {
    long c = 0;
    size_t nl = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += nl) c++;
    return c;
}

/* A connection to the daemon at `path`, retried for up to 10 s while it starts; -1 if none. */
static int connect_socket(const char *path, pid_t daemon) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) { fprintf(stderr, "volley_raw: socket path too long\n"); return -1; }
    strcpy(addr.sun_path, path);
    for (int attempt = 0; attempt < 2000; attempt++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) { perror("socket"); return -1; }
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
        close(fd);
        if (waitpid(daemon, NULL, WNOHANG) == daemon) { fprintf(stderr, "volley_raw: the daemon exited\n"); return -1; }
        usleep(5000);
    }
    fprintf(stderr, "volley_raw: no daemon at %s\n", path);
    return -1;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc < 4) {
        fprintf(stderr, "usage: volley_raw N CONCURRENCY BASE_URL [--mode gather|as_completed] [--volley PATH] [--socket PATH] [--ca-file PEM]\n");
        return 2;
    }
    long n = atol(argv[1]), conc = atol(argv[2]);
    const char *base = argv[3], *mode = "gather", *socket_path = NULL, *ca_file = NULL;
    const char *bin = getenv("VOLLEY_BIN") ? getenv("VOLLEY_BIN") : "volley";
    for (int i = 4; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--mode")) mode = argv[++i];
        else if (!strcmp(argv[i], "--volley")) bin = argv[++i];
        else if (!strcmp(argv[i], "--socket")) socket_path = argv[++i];
        else if (!strcmp(argv[i], "--ca-file")) ca_file = argv[++i];
    }
    int as_completed = !strcmp(mode, "as_completed");
    char ca[640] = "";
    if (ca_file) {
        if (strpbrk(ca_file, "\"\\") || strlen(ca_file) > 600) { fprintf(stderr, "volley_raw: bad --ca-file\n"); return 2; }
        snprintf(ca, sizeof ca, ",\"ca_file\":\"%s\"", ca_file);
    }
    char conc_s[32];
    snprintf(conc_s, sizeof conc_s, "%ld", conc);

    int in[2], out[2];
    if (pipe(in) || pipe(out)) { perror("pipe"); return 3; }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        if (socket_path)
            execlp(bin, "volley", "serve", "--socket", socket_path, "--max-connections-per-host", conc_s, (char *)NULL);
        else
            execlp(bin, "volley", "--max-connections-per-host", conc_s, (char *)NULL);
        perror("exec volley");
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    int to = in[1];
    reader_t r = {.fd = out[0]};
    if (socket_path) {
        /* The daemon's stdin and stdout are unused: talk over the socket. */
        close(to);
        close(out[0]);
        to = connect_socket(socket_path, pid);
        if (to < 0) return 3;
        r.fd = to;
    }
    size_t len;
    char *line;

    char init[2048];
    int il = snprintf(init, sizeof init,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocol_version\":1,"
        "\"client\":{\"name\":\"volley_raw\",\"version\":\"1\"},"
        "\"providers\":{\"bench\":{\"kind\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"x\","
        "\"limits\":{\"concurrency\":%ld,\"rpm\":100000000,\"tpm\":10000000000},\"retry\":{\"max_retries\":0}%s}},"
        "\"default_provider\":\"bench\"}}\n",
        base, conc, ca);
    write_all(to, init, (size_t)il);
    line = read_line(&r, &len);
    if (!line || !strstr(line, "\"result\"")) {
        fprintf(stderr, "volley_raw: initialize failed: %s\n", line ? line : "(EOF)");
        return 3;
    }

    double t0 = now_s(), cpu0 = cpu_self(), side0 = proc_cpu(pid), first = -1;
    buf_t req = {0};
    char head[256];
    int hl = snprintf(head, sizeof head, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"%s\",\"params\":{\"concurrency\":%ld,\"requests\":[",
                      mode, conc);
    put(&req, head, (size_t)hl);
    for (long i = 0; i < n; i++) {
        char item[256];
        int l = snprintf(item, sizeof item,
            "%s{\"provider\":\"bench\",\"request\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello, request %ld\"}],\"max_tokens\":16}}",
            i ? "," : "", i);
        put(&req, item, (size_t)l);
    }
    put(&req, "]}}\n", 4);
    write_all(to, req.s, req.len);

    long ok = 0, errors = 0, items = 0;
    char sample[300] = "";
    int done = 0;
    while (!done && (line = read_line(&r, &len))) {
        if (as_completed && len > 40 && memmem(line, 60 < len ? 60 : len, "\"method\":\"item\"", 15)) {
            if (first < 0) first = now_s() - t0;
            items++;
            if (strstr(line, "\"ok\":true")) ok++;
            else {
                errors++;
                if (!sample[0]) snprintf(sample, sizeof sample, "%.200s", line);
            }
            continue;
        }
        if (strstr(line, "\"id\":2")) {
            if (first < 0) first = now_s() - t0;
            if (!as_completed) {
                ok = count(line, "\"ok\":true");
                long bad = count(line, "\"ok\":false");
                errors += bad;
                if (bad && !sample[0]) {
                    char *p = strstr(line, "\"ok\":false");
                    snprintf(sample, sizeof sample, "%.200s", p);
                }
            }
            if (strstr(line, "\"error\":{\"code\"")) {
                errors += n - ok - errors > 0 ? n - ok - errors : 0;
                snprintf(sample, sizeof sample, "%.200s", line);
            }
            done = 1;
        }
    }
    double wall = now_s() - t0, cpu = cpu_self() - cpu0, side1 = proc_cpu(pid);
    if (!done) {
        errors = n - ok;
        snprintf(sample, sizeof sample, "sidecar closed stdout before answering");
    }
    close(to);
    if (socket_path) kill(pid, SIGTERM); /* a daemon does not end with its host's input */
    int status = 0;
    struct rusage sru;
    memset(&sru, 0, sizeof sru);
    wait4(pid, &status, 0, &sru);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    for (char *p = sample; *p; p++)
        if (*p == '"' || *p == '\\') *p = '\'';
    printf("{\"peer\":\"%s\",\"mode\":\"%s\",\"n\":%ld,\"concurrency\":%ld,\"ok\":%ld,\"errors\":%ld,"
           "\"wall_s\":%.6f,\"first_s\":%.6f,\"cpu_s\":%.6f,\"maxrss_kb\":%ld,"
           "\"sidecar_cpu_s\":%.6f,\"sidecar_cpu_window_s\":%.3f,\"sidecar_maxrss_kb\":%ld,\"sidecar_exit\":%d,"
           "\"request_bytes\":%zu,\"error_sample\":\"%s\"}\n",
           socket_path ? "volley-socket" : "volley-raw", mode, n, conc, ok, errors, wall, first, cpu, ru.ru_maxrss,
           tv(sru.ru_utime) + tv(sru.ru_stime), side1 - side0, sru.ru_maxrss,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), req.len, sample);
    return errors ? 1 : 0;
}
