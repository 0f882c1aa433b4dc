// SPDX-License-Identifier: BSD-2-Clause
/* PID 1 of the VM runner's initramfs (scripts/vm/run.sh builds it, statically linked).
 *
 * 1. loads the kernel modules listed in /modules.order (the host put them in the initramfs,
 *    decompressed, dependencies first): what the guest needs to reach the host's files (9p over
 *    virtio) on a distribution kernel that builds those as modules;
 * 2. with `lbpy.probe` on the kernel command line, prints LBPY-BOOT-OK and powers off (the
 *    runner's acceleration check);
 * 3. mounts the host's root (9p tag "hostroot") read-only, makes it the root, and executes the
 *    guest script named by `lbpy.init=` on the command line with /bin/sh.
 * Any failure powers the guest off (the runner then prints the console's tail): never a hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "lbpy-init: %s: %s\n", what, strerror(errno));
	fflush(stderr);
	sync();
	reboot(RB_POWER_OFF);
	_exit(1);
}

/* The value of `key=` on the kernel command line, or NULL; `key` alone gives "". */
static char *cmdline_value(const char *cmdline, const char *key)
{
	static char value[4096];
	size_t n = strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (!strncmp(p, key, n) && (p[n] == '=' || p[n] == ' ' || p[n] == '\n' || !p[n])) {
			size_t len = 0;

			if (p[n] == '=') {
				p += n + 1;
				while (p[len] && p[len] != ' ' && p[len] != '\n' && len < sizeof(value) - 1)
					len++;
			}
			memcpy(value, p, len);
			value[len] = 0;
			return value;
		}
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

static void load_modules(void)
{
	char line[512];
	FILE *order = fopen("/modules.order", "r");

	if (!order)
		return;
	while (fgets(line, sizeof(line), order)) {
		int fd;

		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "lbpy-init: %s: %s\n", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)
			fprintf(stderr, "lbpy-init: loading %s: %s\n", line, strerror(errno));
		close(fd);
	}
	fclose(order);
}

int main(void)
{
	static char cmdline[8192];
	const char *script, *opts;
	ssize_t n;
	int fd;

	mkdir("/proc", 0755);
	mkdir("/dev", 0755);
	if (mount("proc", "/proc", "proc", 0, NULL))
		die("mount /proc");
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/proc/cmdline", O_RDONLY);
	n = fd >= 0 ? read(fd, cmdline, sizeof(cmdline) - 1) : -1;
	if (n < 0)
		die("read /proc/cmdline");
	cmdline[n] = 0;
	close(fd);

	if (cmdline_value(cmdline, "lbpy.probe")) {
		printf("LBPY-BOOT-OK\n");
		fflush(stdout);
		reboot(RB_POWER_OFF);
		return 0;
	}
	load_modules();
	script = cmdline_value(cmdline, "lbpy.init");
	if (!script || !script[0]) {
		errno = EINVAL;
		die("no lbpy.init= script on the kernel command line");
	}
	script = strdup(script);
	opts = "trans=virtio,version=9p2000.L,msize=512000,cache=loose,access=any";
	mkdir("/newroot", 0755);
	if (mount("hostroot", "/newroot", "9p", MS_RDONLY, opts))
		die("mount the host's root (9p tag hostroot)");
	umount2("/proc", MNT_DETACH);
	umount2("/dev", MNT_DETACH);
	if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/"))
		die("switch to the host's root");
	execl("/bin/sh", "sh", script, (char *)NULL);
	die(script);
	return 1;
}
