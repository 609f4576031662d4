package dev.pgmux.compat;

/**
 * The rows of the compatibility matrix, in the order every driver's check program runs them. The {@link #id} is what
 * a program prints ({@code PASS prepared servers=2}); the {@link #title} is the row's name in
 * {@code docs/COMPATIBILITY.md}, and the {@link #what} its description there.
 */
enum Check {
    KILLED("killed", "client killed mid-query, then another client",
            "a process of the driver is killed (SIGKILL) while its query runs on the route; then a new connection of"
                    + " the driver runs five transactions on the same route, each answered within seconds (a pooled"
                    + " server still running the dead client's query must not be handed out)"),
    LOGIN("login", "SCRAM-SHA-256 login",
            "log in without TLS and ask `current_database()`; a wrong password is refused (28P01, which libpq"
                    + " reports as its message)"),
    TLS("tls", "TLS", "log in over TLS (SCRAM; SCRAM-SHA-256-PLUS where the driver binds by default)"),
    CHANNEL_BINDING("channel_binding", "channel binding required",
            "log in over TLS with SCRAM-SHA-256-PLUS required (libpq's `channel_binding=require` or the driver's"
                    + " equivalent)"),
    SIMPLE("simple", "simple query", "a query in the simple query protocol"),
    PARAMS("params", "parameterized query", "a query with parameters (extended protocol)"),
    PREPARED("prepared", "prepared statement reused across transactions",
            "one named (server-prepared or driver-cached) statement executed in eight transactions, while a second"
                    + " connection of the route holds a transaction open during every other one, so that under"
                    + " transaction pooling the statement runs on at least two server connections"),
    PIPELINE("pipeline", "pipelining", "many queries sent before their results are read (the driver's pipeline mode,"
            + " batch or queue)"),
    COPY_IN("copy_in", "COPY FROM STDIN", "50,000 rows copied in, counted and summed"),
    COPY_OUT("copy_out", "COPY TO STDOUT", "the 50,000 rows copied out again, compared with what went in"),
    LISTEN("listen", "LISTEN/NOTIFY", "a notification from a second connection reaches a listening one"),
    CANCEL("cancel", "cancel of a running query",
            "`pg_sleep(10)`, once a second connection sees it run, canceled by the driver's cancel request: 57014"
                    + " (or the driver's own error for it) within seconds, and the connection works on"),
    TXN_ERROR("txn_error", "error in a transaction, then recovery",
            "an error inside a transaction (22012), the next statement refused (25P02), rollback, and the connection"
                    + " works on"),
    LARGE("large", "200,000 rows streamed",
            "200,000 rows read through the driver's cursor, fetch size or stream, counted and summed"),
    SET_SHOW("set_show", "SET, then SHOW in a later transaction",
            "`SET work_mem` outside a transaction, then `SHOW work_mem` in four later transactions (with a second"
                    + " connection holding a transaction during every other one, as for prepared statements)");

    final String id;
    final String title;
    final String what;

    Check(String id, String title, String what) {
        this.id = id;
        this.title = title;
        this.what = what;
    }

    static Check byId(String id) {
        for (Check c : values()) {
            if (c.id.equals(id)) {
                return c;
            }
        }
        return null;
    }
}
