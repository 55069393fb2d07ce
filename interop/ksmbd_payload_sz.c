// SPDX-License-Identifier: GPL-2.0-or-later
// ksmbd_payload_sz.so - LD_PRELOAD shim for Debian 12's ksmbd-tools 3.4.7 (ksmbd.mountd) on
// kernel 6.1.192 (interop/siw-vm.sh stages it into the siw VM; docs/interop.md "SMB Direct").
//
// Why: kernel 6.1.192's ksmbd validates the share-config IPC reply (transport_ipc.c,
// ipc_validate_msg): the message must be exactly sizeof(struct ksmbd_share_config_response) +
// payload_sz bytes. ksmbd-tools gained the payload_sz field in upstream commit 0ab2c10 ("ksmbd:
// add payload_sz in ksmbd_share_config_response", first release 3.5.2); 3.4.7 leaves the word
// in its reserved area at zero, so every TREE_CONNECT fails with BAD_NETWORK_NAME. Debian's archive
// as reachable here serves the 3.4.7 binary package but not its source tarball, so instead of
// rebuilding the tool with that one line, this shim sets the field on its way out: ksmbd.mountd
// sends each IPC message as one netlink attribute whose type is the event and whose payload is
// the message (mountd/ipc.c, ipc_msg_send -> nla_put), and the payload's size is exactly the
// struct plus the payload that upstream stores in payload_sz. Built against the running kernel's
// own ksmbd_netlink.h, so the offset is the kernel's.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ksmbd_netlink.h"

struct nl_msg;
typedef int (*nla_put_fn)(struct nl_msg *msg, int attrtype, int datalen, const void *data);

int nla_put(struct nl_msg *msg, int attrtype, int datalen, const void *data)
{
	static nla_put_fn real_nla_put;
	if (!real_nla_put)
		real_nla_put = (nla_put_fn)dlsym(RTLD_NEXT, "nla_put");
	if (!real_nla_put)
		abort();
	if (attrtype != KSMBD_EVENT_SHARE_CONFIG_RESPONSE || datalen < 0 ||
	    (size_t)datalen < sizeof(struct ksmbd_share_config_response))
		return real_nla_put(msg, attrtype, datalen, data);
	void *copy = malloc((size_t)datalen);
	if (!copy)
		return -1;
	memcpy(copy, data, (size_t)datalen);
	struct ksmbd_share_config_response *resp = copy;
	resp->payload_sz = (__u32)((size_t)datalen - sizeof(struct ksmbd_share_config_response));
	int rc = real_nla_put(msg, attrtype, datalen, copy);
	free(copy);
	return rc;
}
