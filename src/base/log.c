/*
 * log.c: the leveled logger. Messages are formatted into a bounded line
 * (truncated, never split) and handed to one sink.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "consist/error.h"

#define LOG_LINE_BYTES_MAX 1024

enum cs_log_level cs_log_level_min = CS_LOG_WARN;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

static void stderr_sink(void *ctx, enum cs_log_level level, const char *file, int line,
                        const char *message)
{
    (void)ctx;
    const char *base = strrchr(file, '/');
    fprintf(stderr, "%-5s %s:%d %s\n", level_names[level], base ? base + 1 : file, line, message);
}

static cs_log_sink_fn log_sink = stderr_sink;
static void *log_sink_ctx;

void cs_log_set_level(enum cs_log_level level)
{
    cs_log_level_min = level;
}

int cs_log_level_parse(const char *name, enum cs_log_level *out)
{
    for (int i = CS_LOG_DEBUG; i <= CS_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum cs_log_level)i;
            return 0;
        }
    }
    return CS_EINVAL;
}

void cs_log_set_sink(cs_log_sink_fn sink, void *ctx)
{
    log_sink = sink ? sink : stderr_sink;
    log_sink_ctx = sink ? ctx : NULL;
}

void cs_log_write(enum cs_log_level level, const char *file, int line, const char *fmt, ...)
{
    char message[LOG_LINE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    log_sink(log_sink_ctx, level, file, line, message);
}
