// The Linux calls behind the transport thread's event selector (`EventSelector` in
// VolleyHTTP): epoll for the sockets libcurl asks about, an eventfd for wakeups from other
// threads, and the monotonic clock for libcurl's timer. Linux only, like swift-nio's
// CNIOLinux: on other systems this header declares nothing.
//
// `struct epoll_event` is packed on x86-64, a layout Swift cannot import, so events cross
// into Swift as two plain arrays (descriptors and event bits).
#ifndef VOLLEY_CVOLLEYLINUX_H
#define VOLLEY_CVOLLEYLINUX_H

#ifdef __linux__

#include <stdint.h>
#include <sys/epoll.h>

static const uint32_t VOLLEY_EPOLLIN = EPOLLIN;
static const uint32_t VOLLEY_EPOLLOUT = EPOLLOUT;
static const uint32_t VOLLEY_EPOLLERR = EPOLLERR;
static const uint32_t VOLLEY_EPOLLHUP = EPOLLHUP;

/// The most events one `volley_epoll_wait` returns.
#define VOLLEY_EPOLL_MAX_EVENTS 256

/// A close-on-exec epoll descriptor, or -1.
int volley_epoll_create(void);

/// Adds `fd` with `events`; when it is already in the set (EEXIST), changes it instead.
/// Returns 0, or the errno value.
int volley_epoll_add(int epfd, int fd, uint32_t events);

/// Changes `fd`'s events; when it is not in the set (ENOENT: closed and its number reused
/// without the caller knowing), adds it instead. Returns 0, or the errno value.
int volley_epoll_modify(int epfd, int fd, uint32_t events);

/// Removes `fd`. Returns 0, or the errno value (EBADF/ENOENT for a descriptor that was
/// closed, and so left the set by itself).
int volley_epoll_remove(int epfd, int fd);

/// Waits up to `timeout_ms` (-1: no limit) for at most `capacity` (<= VOLLEY_EPOLL_MAX_EVENTS)
/// events and stores each one's descriptor and event bits. Returns the count, 0 on timeout
/// or EINTR, or -1 when the epoll descriptor is broken.
int volley_epoll_wait(int epfd, int *fds, uint32_t *events, int capacity, int timeout_ms);

/// A non-blocking, close-on-exec eventfd, or -1.
int volley_eventfd_create(void);

/// Wakes whoever waits on the eventfd. It is a counter, so a wakeup is never lost; a full
/// counter (EAGAIN) means a wakeup is already pending.
void volley_eventfd_signal(int fd);

/// Resets the eventfd after a wakeup.
void volley_eventfd_drain(int fd);

/// Monotonic milliseconds, for libcurl's timer.
int64_t volley_monotonic_ms(void);

// Unix domain sockets, for the shared sidecar (`volley serve --socket`, VolleyRPC's
// SocketDaemon): `struct sockaddr_un` and `struct ucred` stay on this side.

/// A close-on-exec Unix stream socket bound to `path` and listening, its file made mode 0600.
/// Returns the descriptor, or -errno (-ENAMETOOLONG for a path longer than `sun_path` holds).
int volley_unix_listen(const char *path, int backlog);

/// A close-on-exec Unix stream socket connected to `path` (to probe for a live server).
/// Returns the descriptor, or -errno.
int volley_unix_connect(const char *path);

/// Waits up to `timeout_ms` (-1: no limit) for a connection on `listen_fd` or for `wake_fd`
/// (an eventfd) to be signalled. Returns the accepted close-on-exec descriptor, -EAGAIN on a
/// timeout, an interruption or a connection that went away before it was accepted, -ECANCELED
/// when woken, or -errno.
int volley_unix_accept(int listen_fd, int wake_fd, int timeout_ms);

/// The connected peer's process id and user id (SO_PEERCRED). Returns 0, or the errno value.
int volley_unix_peer(int fd, int32_t *pid, uint32_t *uid);

/// 1 when the peer has closed its end completely (POLLHUP: it can neither send nor read),
/// 0 when it only stopped sending (a half-close) or is still there.
int volley_unix_peer_gone(int fd);

#endif  // __linux__

#endif
