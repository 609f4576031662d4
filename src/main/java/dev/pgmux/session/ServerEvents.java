package dev.pgmux.session;

import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.server.ServerOwner;
import dev.pgmux.session.SessionState.Forwarding;
import dev.pgmux.session.SessionState.Relaying;
import dev.pgmux.transport.Reading;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * What a session's server connection reports, turned into calls on the session: the server side's only way to its
 * client. It reports only while the session holds it.
 */
/** What the server connection reports; it only ever reports while this session holds it. */
final class ServerEvents implements ServerOwner {
private final ClientSession session;
private final Channel client;
private final ProxyContext proxy;

ServerEvents(ClientSession session, Channel client, ProxyContext proxy) {
    this.session = session;
    this.client = client;
    this.proxy = proxy;
}

    @Override
    public String logContext() {
        return "client=" + session.clientAddress() + " user=" + session.logUser();
    }

    @Override
    public void onLoginStarted() {
        if (session.state() instanceof Relaying r) {
            r.relay().hostStarted();
        }
        client.read();
    }

    @Override
    public void onLoginMessage(ByteBuf frame) {
        if (session.state() instanceof Relaying r) {
            RelayedLogin.onServerMessage(session, proxy, client, r, frame);
        } else {
            frame.release();
        }
    }

    @Override
    public void onData(ByteBuf data) {
        if (session.state() instanceof Forwarding f) {
            session.toClient(f, data);
        } else {
            data.release();
        }
    }

    @Override
    public void onReadComplete() {
        switch (session.state()) {
            case Forwarding f -> {
                client.flush();
                if (session.drainDue()) {
                    session.terminate();
                } else if (!client.isWritable()) {
                    f.server().autoRead(false); // until the client drains, see onClientWritabilityChanged
                }
            }
            case Relaying r -> {
                client.flush();
                if (client.isWritable()) {
                    r.server().read();
                }
            }
            default -> {
            }
        }
    }

    @Override
    public void onWritable() {
        switch (session.state()) {
            case Forwarding f -> Reading.flow(client, true);
            case Relaying r -> client.read();
            default -> {
            }
        }
    }

    @Override
    public void onFailed(ServerOwner.Failure failure, String why) {
        switch (failure) {
            case NO_HOST -> session.fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE,
                    "could not connect to the backend server"));
            case LOST_DURING_LOGIN -> {
                if (!(session.state() instanceof Relaying r)) {
                    return;
                }
                if (r.relay().errorRelayed()) {
                    session.close("authentication failed");
                } else {
                    ClientSession.log.warn("backend closed during authentication client={} user={} backend={}",
                            session.clientAddress(), session.logUser(), r.server().lastEndpoint());
                    session.fail(ErrorResponse.fatal(SqlState.CONNECTION_FAILURE,
                            "the backend server closed the connection during authentication"));
                }
            }
            case CLOSED -> session.close("backend closed");
        }
    }
}
