/* The skeleton test's ring buffer event: reached only through a local pointer, so it is not in
 * the object's BTF (gen skeleton --type 'struct event' reads it from DWARF or this header). */
#ifndef SKELETON_H
#define SKELETON_H

struct event {
	__u32 pid;
	__u32 step;
	char tag[8];
};

#endif
