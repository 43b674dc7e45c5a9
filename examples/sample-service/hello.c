/* The sample service: a tiny static program, the whole of its FROM scratch image. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const char *version = getenv("APP_VERSION");
    printf("hello from sample-service %s\n", version ? version : "(unknown version)");
    return 0;
}
