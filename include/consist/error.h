/*
 * consist/error.h: the error codes every consist function returns.
 *
 * Every function in libconsist that can fail returns 0 on success or one of
 * the negative CS_E... codes below; there is no errno side channel. The codes
 * and their messages live in one table (CS_ERRORS) so that a code can never
 * exist without a message.
 */
#ifndef CONSIST_ERROR_H
#define CONSIST_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). Values are stable: they may be stored and sent. */
#define CS_ERRORS(X)                                                                               \
    X(CS_OK, 0, "success")                                                                         \
    X(CS_ENOMEM, -1, "out of memory")                                                              \
    X(CS_EINVAL, -2, "invalid argument")                                                           \
    X(CS_EDECODE, -3, "malformed encoding")                                                        \
    X(CS_ETOOBIG, -4, "size exceeds its limit")                                                    \
    X(CS_ENOSPACE, -5, "buffer capacity exhausted")                                                \
    X(CS_EVERSION, -6, "unsupported encoding version")                                             \
    X(CS_ECLOCKDRIFT, -7, "remote clock too far ahead")                                            \
    X(CS_ENOTFOUND, -8, "not found")                                                               \
    X(CS_EEXIST, -9, "already exists")                                                             \
    X(CS_EIO, -10, "input/output error")                                                           \
    X(CS_ETIMEOUT, -11, "timed out")                                                               \
    X(CS_ENOQUORUM, -12, "quorum not reached")                                                     \
    X(CS_ENOTLEADER, -13, "not the leader")                                                        \
    X(CS_EBUSY, -14, "resource busy")                                                              \
    X(CS_ECONFLICT, -15, "conflicting state")                                                      \
    X(CS_ERANGE, -16, "value out of range")                                                        \
    X(CS_EOVERFLOW, -17, "arithmetic overflow")                                                    \
    X(CS_ESTATE, -18, "operation not allowed in this state")                                       \
    X(CS_EUNKNOWN, -19, "outcome unknown")                                                         \
    X(CS_EPARSE, -20, "parse error")                                                               \
    X(CS_EBUDGET, -21, "time or memory budget exhausted")                                          \
    X(CS_ECORRUPT, -22, "stored data corrupt")                                                     \
    X(CS_EDENIED, -23, "not permitted")

enum cs_error {
#define CS_ERROR_ENUM_(name, value, message) name = value,
    CS_ERRORS(CS_ERROR_ENUM_)
#undef CS_ERROR_ENUM_
};

/* The lowest code in the table; codes below it are unknown. */
#define CS_ERROR_MIN (-23)

/*
 * cs_strerror: a static, human-readable message for a code.
 * Never returns NULL: an unknown code yields "unknown error".
 */
const char *cs_strerror(int code);

/*
 * cs_errname: the code's symbolic name ("CS_EDECODE"), static, never NULL
 * ("CS_E?" for an unknown code).
 */
const char *cs_errname(int code);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_ERROR_H */
