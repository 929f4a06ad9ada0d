/*
 * server_token.c: session tokens and the server's strict decimal parser
 * (src/server/token.c, compiled in): every index round-trips, the largest
 * 64-bit index is accepted and one past it refused, and every other
 * spelling of a number is refused.
 */
#include <string.h>

#include "consist/rng.h"
#include "testlib.h" /* before the server code: base/assert.h defines noreturn */

#include "server/token.c"

static int parse(const char *text, uint64_t *out)
{
    return srv_token_parse((const uint8_t *)text, strlen(text), out);
}

CS_TEST(round_trip)
{
    uint64_t seeds = cs_test_seeds(2000);
    struct cs_rng rng;
    cs_rng_init(&rng, cs_test_seed());
    for (uint64_t k = 0; k < seeds; k++) {
        uint64_t index = cs_rng_u64(&rng) >> cs_rng_below(&rng, 64);
        char token[SRV_TOKEN_BYTES_MAX];
        size_t len = srv_token_format(token, index);
        CS_CHECK_EQ(len, strlen(token));
        uint64_t back = 1;
        CS_CHECK_OK(srv_token_parse((const uint8_t *)token, len, &back));
        CS_CHECK_EQ_U64(back, index);
    }
}

CS_TEST(limits_and_refusals)
{
    uint64_t v = 0;
    CS_CHECK_OK(parse("cs1-18446744073709551615", &v)); /* UINT64_MAX: the limit */
    CS_CHECK(v == UINT64_MAX);
    CS_CHECK_RC(parse("cs1-18446744073709551616", &v), CS_EPARSE); /* one past */
    CS_CHECK_RC(parse("cs1-99999999999999999999", &v), CS_EPARSE);
    CS_CHECK_OK(parse("cs1-0", &v));
    CS_CHECK(v == 0);
    const char *bad[] = {"",       "cs1-",  "cs1-01", "cs1--1", "cs1-+1", "cs1- 1",
                         "cs1-1 ", "cs2-1", "CS1-1",  "cs1",    "1",      "cs1-1x"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CS_CHECK_MSG(parse(bad[k], &v) == CS_EPARSE, "'%s' was accepted", bad[k]);
    char token[SRV_TOKEN_BYTES_MAX];
    CS_CHECK_EQ(srv_token_format(token, UINT64_MAX), strlen("cs1-18446744073709551615"));
}

CS_TEST_MAIN(CS_CASE(round_trip), CS_CASE(limits_and_refusals))
