/* main.c - signpostd entry point (placeholder until the daemon lands). */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "signpostd: not built yet\n");
	return 2;
}
