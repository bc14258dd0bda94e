/* echo.c - the CPU floor for the authoritative benchmark (tests/bench/auth): a bare UDP
 * echo server that reads datagrams with recvmmsg and writes each one back unchanged with
 * sendmmsg, in batches of up to BATCH, on one thread. Any DNS server pays at least this
 * per packet for the system calls and the kernel's UDP path; the benchmark reports it
 * next to the servers' CPU time per query.
 * Usage: echo PORT   (binds 127.0.0.1:PORT; runs until killed) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64
#define BUFSZ 4096

int
main(int argc, char **argv)
{
	static char bufs[BATCH][BUFSZ];
	static struct sockaddr_in peers[BATCH];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];

	if (argc != 2) {
		fprintf(stderr, "usage: echo PORT\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("echo: bind");
		return 1;
	}
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = BUFSZ };
			msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &peers[i], .msg_namelen = sizeof(peers[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1,
			};
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		int off = 0;
		while (off < n) {           /* sendmmsg may send fewer than asked */
			int m = sendmmsg(fd, msgs + off, (unsigned)(n - off), 0);
			if (m <= 0)
				break;
			off += m;
		}
	}
}
