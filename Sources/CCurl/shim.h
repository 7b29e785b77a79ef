// Typed wrappers for libcurl's variadic setters and getters.
//
// `curl_easy_setopt`, `curl_easy_getinfo` and `curl_multi_setopt` are C variadic
// functions, which Swift cannot call. Each wrapper below fixes the argument type so
// the Swift side passes exactly what libcurl expects for that option family. (The event
// loop's epoll, eventfd and clock calls are not libcurl's: they are in CVolleyLinux.)
#ifndef VOLLEY_CCURL_SHIM_H
#define VOLLEY_CCURL_SHIM_H

#include <curl/curl.h>
#include <sys/socket.h>

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

/// `CURLMsg.data` is a union; Swift sees it awkwardly, so read the result code here.
static inline CURLcode volley_msg_result(const CURLMsg *msg) {
    return msg->data.result;
}

#endif
