/* The floor: N chat-completion POSTs over one libcurl multi handle, single-threaded,
 * `concurrency` transfers in flight, easy handles and keep-alive connections reused.
 * No JSON parsing: a reply counts as ok when it is HTTP 200 and contains "choices".
 *
 *   c_multi N CONCURRENCY BASE_URL [--mode gather|as_completed] [--ca-file PEM] [--max-host-connections K]
 *
 * Over https:// (W5) the transfers ask for HTTP/2 (CURL_HTTP_VERSION_2TLS, ALPN), wait for a
 * connection that can multiplex rather than open another (CURLOPT_PIPEWAIT) and share it
 * (CURLPIPE_MULTIPLEX on the multi handle; libcurl's default of 100 streams per connection);
 * --ca-file names the CA to trust (CURLOPT_CAINFO). Over http:// none of these is set.
 * --max-host-connections caps CURLMOPT_MAX_HOST_CONNECTIONS (default CONCURRENCY, as bench/run
 * runs it). Seen with libcurl 7.88 over HTTP/2: a transfer that finds the open connections full
 * opens a new one instead of waiting for one being set up, so CONCURRENCY 2,000 opens ~1,900
 * connections; K = ceil(CONCURRENCY / 100) keeps the transfers multiplexed on K.
 *
 * Prints one JSON line: wall, time to first result, CPU (getrusage self, work window only),
 * peak RSS, ok/errors. Build: cc -O2 -o c_multi c_multi.c $(pkg-config --cflags --libs libcurl)
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
    CURL *easy;
    char body[256];
    char *resp;
    size_t resp_len, resp_cap;
} slot_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp) {
    slot_t *s = userp;
    size_t n = size * nmemb;
    if (s->resp_len + n + 1 > s->resp_cap) {
        size_t cap = s->resp_cap ? s->resp_cap * 2 : 2048;
        while (cap < s->resp_len + n + 1) cap *= 2;
        char *p = realloc(s->resp, cap);
        if (!p) return 0;
        s->resp = p;
        s->resp_cap = cap;
    }
    memcpy(s->resp + s->resp_len, data, n);
    s->resp_len += n;
    s->resp[s->resp_len] = 0;
    return n;
}

static void start(CURLM *multi, slot_t *s, long index) {
    int len = snprintf(s->body, sizeof s->body,
                       "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello, request %ld\"}],\"max_tokens\":16}",
                       index);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    s->resp_len = 0;
    curl_multi_add_handle(multi, s->easy);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: c_multi N CONCURRENCY BASE_URL [--mode gather|as_completed] [--ca-file PEM] [--max-host-connections K]\n");
        return 2;
    }
    long n = atol(argv[1]), conc = atol(argv[2]);
    const char *mode = "gather", *ca_file = NULL;
    long host_connections = 0;
    for (int i = 4; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--mode")) mode = argv[++i];
        else if (!strcmp(argv[i], "--ca-file")) ca_file = argv[++i];
        else if (!strcmp(argv[i], "--max-host-connections")) host_connections = atol(argv[++i]);
    }
    int tls = !strncmp(argv[3], "https://", 8);
    if (conc > n) conc = n;
    char url[1024];
    snprintf(url, sizeof url, "%s/chat/completions", argv[3]);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, host_connections > 0 ? host_connections : conc);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, conc);
    if (tls) curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Authorization: Bearer x");

    slot_t *slots = calloc(conc, sizeof *slots);
    for (long i = 0; i < conc; i++) {
        CURL *e = curl_easy_init();
        slots[i].easy = e;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, 120L);
        if (tls) {
            curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
            curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
            if (ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
        }
    }

    double cpu0 = cpu_s(), t0 = now_s(), first = -1;
    long next = 0, done = 0, ok = 0, errors = 0;
    char sample[256] = "";
    for (; next < conc; next++) start(multi, &slots[next], next);

    while (done < n) {
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL *e = msg->easy_handle;
            CURLcode rc = msg->data.result;
            slot_t *s;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
            long status = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(multi, e);
            if (rc == CURLE_OK && status == 200 && s->resp && strstr(s->resp, "\"choices\"")) {
                ok++;
            } else {
                errors++;
                if (!sample[0])
                    snprintf(sample, sizeof sample, "curl %d (%s), HTTP %ld", rc, curl_easy_strerror(rc), status);
            }
            if (first < 0) first = now_s() - t0;
            done++;
            if (next < n) start(multi, s, next++);
        }
        if (done < n) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    double wall = now_s() - t0, cpu = cpu_s() - cpu0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"peer\":\"c-multi\",\"mode\":\"%s\",\"n\":%ld,\"concurrency\":%ld,\"ok\":%ld,\"errors\":%ld,"
           "\"wall_s\":%.6f,\"first_s\":%.6f,\"cpu_s\":%.6f,\"maxrss_kb\":%ld,\"error_sample\":\"%s\"}\n",
           mode, n, conc, ok, errors, wall, first, cpu, ru.ru_maxrss, sample);
    for (long i = 0; i < conc; i++) {
        curl_easy_cleanup(slots[i].easy);
        free(slots[i].resp);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    return errors ? 1 : 0;
}
