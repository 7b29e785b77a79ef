// Thin wrappers over epoll, eventfd and the monotonic clock: see include/CVolleyLinux.h.
#ifdef __linux__

#include "CVolleyLinux.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int volley_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

static int volley_epoll_ctl(int epfd, int op, int fd, uint32_t events) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = events;
    event.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &event) == 0 ? 0 : errno;
}

int volley_epoll_add(int epfd, int fd, uint32_t events) {
    int error = volley_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, events);
    if (error == EEXIST) error = volley_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, events);
    return error;
}

int volley_epoll_modify(int epfd, int fd, uint32_t events) {
    int error = volley_epoll_ctl(epfd, EPOLL_CTL_MOD, fd, events);
    if (error == ENOENT) error = volley_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, events);
    return error;
}

int volley_epoll_remove(int epfd, int fd) {
    return volley_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0);
}

int volley_epoll_wait(int epfd, int *fds, uint32_t *events, int capacity, int timeout_ms) {
    struct epoll_event buffer[VOLLEY_EPOLL_MAX_EVENTS];
    if (capacity > VOLLEY_EPOLL_MAX_EVENTS) capacity = VOLLEY_EPOLL_MAX_EVENTS;
    int count = epoll_wait(epfd, buffer, capacity, timeout_ms);
    if (count < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < count; i++) {
        fds[i] = buffer[i].data.fd;
        events[i] = buffer[i].events;
    }
    return count;
}

int volley_eventfd_create(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

void volley_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written;
    do { written = write(fd, &one, sizeof one); } while (written < 0 && errno == EINTR);
}

void volley_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t got;
    do { got = read(fd, &value, sizeof value); } while (got < 0 && errno == EINTR);
}

int64_t volley_monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

#endif  // __linux__
