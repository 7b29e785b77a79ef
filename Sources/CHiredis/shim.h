// hiredis (Debian's libhiredis-dev), the Redis client behind shared limits across machines
// (VolleyRedis). The shim keeps Swift away from hiredis's structs and variadic calls: a
// connection is an opaque context, a reply an opaque pointer read through accessors.
// Debian 12 ships hiredis 0.14, which has no TLS (VolleyRedis refuses rediss:// URLs).
#ifndef VOLLEY_CHIREDIS_SHIM_H
#define VOLLEY_CHIREDIS_SHIM_H

#include <stddef.h>
#include <string.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>

static const int VOLLEY_REDIS_REPLY_STRING = REDIS_REPLY_STRING;
static const int VOLLEY_REDIS_REPLY_ARRAY = REDIS_REPLY_ARRAY;
static const int VOLLEY_REDIS_REPLY_INTEGER = REDIS_REPLY_INTEGER;
static const int VOLLEY_REDIS_REPLY_NIL = REDIS_REPLY_NIL;
static const int VOLLEY_REDIS_REPLY_STATUS = REDIS_REPLY_STATUS;
static const int VOLLEY_REDIS_REPLY_ERROR = REDIS_REPLY_ERROR;

/// A blocking connection to `host`:`port` whose connect and every later command give up after
/// `timeout_ms`. NULL when out of memory; otherwise check `volley_redis_error`.
static inline redisContext *volley_redis_connect(const char *host, int port, long timeout_ms) {
    struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *context = redisConnectWithTimeout(host, port, timeout);
    if (context != NULL && context->err == 0) redisSetTimeout(context, timeout);
    return context;
}

/// The context's error message, or NULL while it works (a broken context stays broken).
static inline const char *volley_redis_error(const redisContext *context) {
    return context->err ? context->errstr : NULL;
}

/// Sends one command (binary-safe arguments) and waits for its reply: NULL on an I/O error
/// (see `volley_redis_error`), else a reply to free with `freeReplyObject`.
static inline void *volley_redis_command(redisContext *context, int argc, const char **argv, const size_t *lengths) {
    return redisCommandArgv(context, argc, argv, lengths);
}

/// Queues one command without waiting (a pipeline); 0, or -1 when out of memory.
static inline int volley_redis_append(redisContext *context, int argc, const char **argv, const size_t *lengths) {
    return redisAppendCommandArgv(context, argc, argv, lengths) == REDIS_OK ? 0 : -1;
}

/// Sends what is queued (the first time) and waits for the next reply: NULL on an I/O error.
static inline void *volley_redis_next_reply(redisContext *context) {
    void *reply = NULL;
    return redisGetReply(context, &reply) == REDIS_OK ? reply : NULL;
}

static inline int volley_reply_type(const void *reply) { return ((const redisReply *)reply)->type; }
static inline long long volley_reply_integer(const void *reply) { return ((const redisReply *)reply)->integer; }
static inline const char *volley_reply_bytes(const void *reply, size_t *length) {
    *length = ((const redisReply *)reply)->len;
    return ((const redisReply *)reply)->str;
}
static inline size_t volley_reply_count(const void *reply) { return ((const redisReply *)reply)->elements; }
static inline const void *volley_reply_element(const void *reply, size_t index) {
    return ((const redisReply *)reply)->element[index];
}

#endif
