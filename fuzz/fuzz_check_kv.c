/*
 * fuzz_check_kv.c: the Porcupine kv log reader on arbitrary bytes; the
 * property is fuzz_check_reader.h's.
 */
#include "fuzz_check_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_history_reader(CS_FORMAT_PORCUPINE_KV, data, size);
}
