// Unix domain sockets for the shared sidecar: see include/CVolleyLinux.h.
#ifdef __linux__
#define _GNU_SOURCE

#include "CVolleyLinux.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int volley_unix_address(const char *path, struct sockaddr_un *address) {
    size_t length = strlen(path);
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    if (length == 0 || length >= sizeof address->sun_path) return -ENAMETOOLONG;
    memcpy(address->sun_path, path, length);
    return 0;
}

int volley_unix_listen(const char *path, int backlog) {
    struct sockaddr_un address;
    int status = volley_unix_address(path, &address);
    if (status != 0) return status;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0
        || chmod(path, S_IRUSR | S_IWUSR) != 0
        || listen(fd, backlog) != 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

int volley_unix_connect(const char *path) {
    struct sockaddr_un address;
    int status = volley_unix_address(path, &address);
    if (status != 0) return status;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    while (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

int volley_unix_accept(int listen_fd, int wake_fd, int timeout_ms) {
    struct pollfd fds[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int ready = poll(fds, 2, timeout_ms);
    if (ready < 0) return errno == EINTR ? -EAGAIN : -errno;
    if (fds[1].revents != 0) return -ECANCELED;
    if (ready == 0 || fds[0].revents == 0) return -EAGAIN;
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    switch (errno) {
    case EINTR: case EAGAIN: case ECONNABORTED: case EPROTO:
        return -EAGAIN;
    default:
        return -errno;
    }
}

int volley_unix_peer(int fd, int32_t *pid, uint32_t *uid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return errno;
    *pid = credentials.pid;
    *uid = credentials.uid;
    return 0;
}

int volley_unix_peer_gone(int fd) {
    struct pollfd descriptor = {.fd = fd, .events = POLLOUT};
    if (poll(&descriptor, 1, 0) < 0) return 0;
    return (descriptor.revents & POLLHUP) != 0;
}

#endif  // __linux__
