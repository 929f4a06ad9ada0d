/*
 * error.c: messages and names for the CS_E... codes, from the one table in
 * consist/error.h.
 */
#include "consist/error.h"

_Static_assert(CS_EDENIED == CS_ERROR_MIN, "CS_ERROR_MIN must name the last code");

const char *cs_strerror(int code)
{
    switch (code) {
#define CS_ERROR_MSG_(name, value, message)                                                        \
    case value:                                                                                    \
        return message;
        CS_ERRORS(CS_ERROR_MSG_)
#undef CS_ERROR_MSG_
    default:
        return "unknown error";
    }
}

const char *cs_errname(int code)
{
    switch (code) {
#define CS_ERROR_NAME_(name, value, message)                                                       \
    case value:                                                                                    \
        return #name;
        CS_ERRORS(CS_ERROR_NAME_)
#undef CS_ERROR_NAME_
    default:
        return "CS_E?";
    }
}
