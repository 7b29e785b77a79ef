// Typed wrappers for libcurl's variadic setters and getters.
//
// `curl_easy_setopt`, `curl_easy_getinfo` and `curl_multi_setopt` are C variadic
// functions, which Swift cannot call. Each wrapper below fixes the argument type so
// the Swift side passes exactly what libcurl expects for that option family.
#ifndef VOLLEY_CCURL_SHIM_H
#define VOLLEY_CCURL_SHIM_H

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static inline CURLcode volley_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode volley_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode volley_easy_setopt_ptr(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode volley_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode volley_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Data callbacks (WRITEFUNCTION, HEADERFUNCTION): size_t (*)(char *, size_t, size_t, void *).
typedef size_t (*volley_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode volley_easy_setopt_data_callback(CURL *handle, CURLoption option, volley_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode volley_easy_setopt_opensocket(CURL *handle, curl_opensocket_callback value) {
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, value);
}

static inline CURLcode volley_easy_setopt_closesocket(CURL *handle, curl_closesocket_callback value) {
    return curl_easy_setopt(handle, CURLOPT_CLOSESOCKETFUNCTION, value);
}

/// The socket libcurl asked for, close-on-exec.
static inline curl_socket_t volley_open_socket(const struct curl_sockaddr *address) {
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static inline CURLcode volley_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode volley_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode volley_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode volley_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

static inline CURLMcode volley_multi_setopt_ptr(CURLM *handle, CURLMoption option, void *value) {
    return curl_multi_setopt(handle, option, value);
}

/// CURLMOPT_SOCKETFUNCTION: libcurl says which events it wants on a socket.
typedef int (*volley_socket_callback)(CURL *easy, curl_socket_t socket, int what, void *userp, void *socketp);

/// CURLMOPT_TIMERFUNCTION: libcurl says when it next wants `CURL_SOCKET_TIMEOUT` (-1: never).
typedef int (*volley_timer_callback)(CURLM *multi, long timeout_ms, void *userp);

static inline CURLMcode volley_multi_setopt_socket_callback(CURLM *handle, volley_socket_callback value) {
    return curl_multi_setopt(handle, CURLMOPT_SOCKETFUNCTION, value);
}

static inline CURLMcode volley_multi_setopt_timer_callback(CURLM *handle, volley_timer_callback value) {
    return curl_multi_setopt(handle, CURLMOPT_TIMERFUNCTION, value);
}

// The transport thread's event loop: epoll for the sockets libcurl asks about, an eventfd
// for wakeups from other threads. `struct epoll_event` is packed on x86-64, a layout Swift
// cannot import, so events cross into Swift as plain arrays.

static const uint32_t VOLLEY_EPOLLIN = EPOLLIN;
static const uint32_t VOLLEY_EPOLLOUT = EPOLLOUT;
static const uint32_t VOLLEY_EPOLLERR = EPOLLERR;
static const uint32_t VOLLEY_EPOLLHUP = EPOLLHUP;
static const int VOLLEY_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int VOLLEY_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int VOLLEY_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

static inline int volley_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

/// Adds, changes or removes `fd`; returns 0, or -1 with the errno value in `*error`.
static inline int volley_epoll_ctl(int epfd, int op, int fd, uint32_t events, int *error) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = events;
    event.data.fd = fd;
    int result = epoll_ctl(epfd, op, fd, &event);
    *error = result < 0 ? errno : 0;
    return result;
}

/// Waits up to `timeout_ms` (-1: no limit) for at most `capacity` (<= 256) events and
/// stores each one's fd and event bits. Returns the count, 0 on timeout or EINTR, or -1.
static inline int volley_epoll_wait(int epfd, int *fds, uint32_t *events, int capacity, int timeout_ms) {
    struct epoll_event buffer[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epfd, buffer, capacity, timeout_ms);
    if (count < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < count; i++) {
        fds[i] = buffer[i].data.fd;
        events[i] = buffer[i].events;
    }
    return count;
}

static inline int volley_eventfd_create(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/// Wakes whoever waits on the eventfd. It is a counter, so a wakeup is never lost; a full
/// counter (EAGAIN) means a wakeup is already pending.
static inline void volley_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written;
    do { written = write(fd, &one, sizeof one); } while (written < 0 && errno == EINTR);
}

/// Resets the eventfd after a wakeup.
static inline void volley_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t got;
    do { got = read(fd, &value, sizeof value); } while (got < 0 && errno == EINTR);
}

static inline void volley_close(int fd) {
    close(fd);
}

/// Monotonic milliseconds, for libcurl's timer.
static inline int64_t volley_monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/// `CURLMsg.data` is a union; Swift sees it awkwardly, so read the result code here.
static inline CURLcode volley_msg_result(const CURLMsg *msg) {
    return msg->data.result;
}

#endif
