package dev.pgmux.compat;

/** The columns groups of the matrix: how pgmux serves the route the drivers connect to. */
enum Mode {
    PASSTHROUGH("passthrough", "Passthrough",
            "`auth: passthrough`, no pool: the server does SCRAM with the client, pgmux relays the session."),
    SESSION("session", "Session pooling",
            "`auth: proxy`, `pool: session`, `pool_size: 3`: pgmux does SCRAM with the client and gives it one pooled"
                    + " server connection for its whole session."),
    TRANSACTION("transaction", "Transaction pooling",
            "`auth: proxy`, `pool: transaction`, `pool_size: 3`, one event loop: a client gets a server connection for"
                    + " each transaction, and its transactions move between them.");

    final String id;
    final String title;
    final String what;

    Mode(String id, String title, String what) {
        this.id = id;
        this.title = title;
        this.what = what;
    }
}
