/* Reports what the module can see: its arguments, one variable, a mounted file, whether it can
 * write into the mount, and its JSON input (stdin), as one JSON object on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    char input[4096] = {0};
    size_t n = fread(input, 1, sizeof input - 1, stdin);
    while (n > 0 && (input[n - 1] == '\n' || input[n - 1] == ' ')) input[--n] = 0;
    char note[256] = {0};
    FILE *f = fopen("/data/note.txt", "r");
    if (f) { size_t k = fread(note, 1, sizeof note - 1, f); note[k] = 0; fclose(f); }
    while (strlen(note) && note[strlen(note) - 1] == '\n') note[strlen(note) - 1] = 0;
    FILE *w = fopen("/data/written.txt", "w");
    int wrote = w != NULL;
    if (w) fclose(w);
    const char *mode = getenv("MODE");
    printf("{\"argc\": %d, \"arg1\": \"%s\", \"mode\": \"%s\", \"note\": \"%s\", \"wrote\": %s, \"input\": %s}\n",
           argc, argc > 1 ? argv[1] : "", mode ? mode : "", note, wrote ? "true" : "false", n ? input : "null");
    return 0;
}
