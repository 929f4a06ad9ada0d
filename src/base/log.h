/*
 * log.h: leveled logging to a replaceable sink.
 *
 * The level check is a macro so a disabled level costs one comparison and
 * evaluates none of its arguments. The default sink writes one line to
 * stderr; servers replace it, the simulator prefixes virtual time.
 */
#ifndef CS_BASE_LOG_H
#define CS_BASE_LOG_H

enum cs_log_level {
    CS_LOG_DEBUG = 0,
    CS_LOG_INFO = 1,
    CS_LOG_WARN = 2,
    CS_LOG_ERROR = 3,
    CS_LOG_OFF = 4,
};

typedef void (*cs_log_sink_fn)(void *ctx, enum cs_log_level level, const char *file, int line,
                               const char *message);

/* The current threshold; messages below it are dropped. Default CS_LOG_WARN. */
extern enum cs_log_level cs_log_level_min;

void cs_log_set_level(enum cs_log_level level);
/* cs_log_level_parse: "debug", "info", "warn", "error", "off"; 0 or CS_EINVAL. */
int cs_log_level_parse(const char *name, enum cs_log_level *out);
/* cs_log_set_sink: NULL restores the stderr sink. */
void cs_log_set_sink(cs_log_sink_fn sink, void *ctx);

void cs_log_write(enum cs_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CS_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= cs_log_level_min) cs_log_write((level), __FILE__, __LINE__, __VA_ARGS__);   \
    } while (0)

#define CS_LOGD(...) CS_LOG(CS_LOG_DEBUG, __VA_ARGS__)
#define CS_LOGI(...) CS_LOG(CS_LOG_INFO, __VA_ARGS__)
#define CS_LOGW(...) CS_LOG(CS_LOG_WARN, __VA_ARGS__)
#define CS_LOGE(...) CS_LOG(CS_LOG_ERROR, __VA_ARGS__)

#endif /* CS_BASE_LOG_H */
