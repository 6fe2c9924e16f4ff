// The peer benchmark for Distillery's transport: the same traffic through plain libzmq, with
// no framing, validation or threads of ours (Scripts/bench runs both and prints the ratio).
//
//   zmq-raw-bench stream-recv ENDPOINT COUNT          bind a ROUTER, receive COUNT messages
//   zmq-raw-bench stream-send ENDPOINT COUNT BYTES    connect a DEALER, send COUNT messages of
//                                                     a 48-byte header + a BYTES payload frame
//   zmq-raw-bench rtt-server ENDPOINT                 bind a REP, echo until a 4-byte "stop"
//   zmq-raw-bench rtt-client ENDPOINT COUNT           connect a REQ, time COUNT round trips
//
// Throughput is payload bytes from the first message to the last (connection set-up excluded).
// Payloads are sent zero-copy (zmq_msg_init_data), the fastest way plain libzmq offers.
#include <zmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void no_free(void *data, void *hint) { (void)data; (void)hint; }

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    fprintf(stderr, "zmq-raw-bench: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static int stream_recv(void *ctx, const char *endpoint, long count) {
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(s, endpoint) != 0) die("bind");
    zmq_msg_t msg;
    double start = 0;
    long bytes = 0;
    for (long i = 0; i < count; i++) {
        int more = 1;
        int part = 0;
        while (more) {
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, s, 0) < 0) die("recv");
            if (part == 2 && i > 0) bytes += (long)zmq_msg_size(&msg);
            more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
            part++;
        }
        if (i == 0) start = now_seconds();
    }
    double elapsed = now_seconds() - start;
    printf("{\"mb_per_s\": %.1f, \"messages\": %ld, \"seconds\": %.3f}\n", (double)bytes / 1e6 / elapsed, count, elapsed);
    zmq_close(s);
    return 0;
}

static int stream_send(void *ctx, const char *endpoint, long count, size_t size) {
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    if (zmq_connect(s, endpoint) != 0) die("connect");
    char header[48];
    memset(header, 1, sizeof header);
    char *payload = malloc(size);
    memset(payload, 2, size);
    zmq_msg_t msg;
    for (long i = 0; i < count; i++) {
        if (zmq_send(s, header, sizeof header, ZMQ_SNDMORE) < 0) die("send header");
        zmq_msg_init_data(&msg, payload, size, no_free, NULL);
        if (zmq_msg_send(&msg, s, 0) < 0) die("send payload");
    }
    int linger = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(s);
    return 0;
}

static int rtt_server(void *ctx, const char *endpoint) {
    void *s = zmq_socket(ctx, ZMQ_REP);
    if (zmq_bind(s, endpoint) != 0) die("bind");
    char buf[256];
    for (;;) {
        int n = zmq_recv(s, buf, sizeof buf, 0);
        if (n < 0) die("recv");
        zmq_send(s, buf, n > 256 ? 256 : (size_t)n, 0);
        if (n == 4 && memcmp(buf, "stop", 4) == 0) break;
    }
    zmq_close(s);
    return 0;
}

static int rtt_client(void *ctx, const char *endpoint, long count) {
    void *s = zmq_socket(ctx, ZMQ_REQ);
    if (zmq_connect(s, endpoint) != 0) die("connect");
    char request[64], reply[256];
    memset(request, 3, sizeof request);
    double *rtts = malloc(sizeof(double) * (size_t)count);
    for (long i = -100; i < count; i++) {  // 100 warm-up round trips
        double t0 = now_seconds();
        if (zmq_send(s, request, sizeof request, 0) < 0) die("send");
        if (zmq_recv(s, reply, sizeof reply, 0) < 0) die("recv");
        if (i >= 0) rtts[i] = (now_seconds() - t0) * 1e6;
    }
    zmq_send(s, "stop", 4, 0);
    zmq_recv(s, reply, sizeof reply, 0);
    qsort(rtts, (size_t)count, sizeof(double), compare_doubles);
    printf("{\"median_us\": %.1f, \"p99_us\": %.1f, \"count\": %ld}\n", rtts[count / 2], rtts[(count * 99) / 100], count);
    zmq_close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: zmq-raw-bench stream-recv|stream-send|rtt-server|rtt-client ENDPOINT [COUNT] [BYTES]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    const char *mode = argv[1], *endpoint = argv[2];
    long count = argc > 3 ? atol(argv[3]) : 1000;
    int rc = 2;
    if (strcmp(mode, "stream-recv") == 0) rc = stream_recv(ctx, endpoint, count);
    else if (strcmp(mode, "stream-send") == 0 && argc > 4) rc = stream_send(ctx, endpoint, count, (size_t)atol(argv[4]));
    else if (strcmp(mode, "rtt-server") == 0) rc = rtt_server(ctx, endpoint);
    else if (strcmp(mode, "rtt-client") == 0) rc = rtt_client(ctx, endpoint, count);
    else fprintf(stderr, "zmq-raw-bench: unknown mode or missing arguments\n");
    zmq_ctx_term(ctx);
    return rc;
}
