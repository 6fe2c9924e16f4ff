// libzmq 4.3 (Debian: libzmq3-dev), the only networking library of the cluster.
#include <zmq.h>
// eventfd(2): how async callers wake the transport's poller thread (polled beside the sockets).
#include <sys/eventfd.h>
// mallopt(3): the allocator policy for tensor frames (TransportZMQ.ProcessMemoryPolicy).
#include <malloc.h>
