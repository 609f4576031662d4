package dev.pgmux.session;

import dev.pgmux.cancel.CancelRegistry;
import dev.pgmux.protocol.ErrorResponse;
import dev.pgmux.protocol.SqlState;
import dev.pgmux.protocol.backend.BackendKeyData;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.util.List;

/**
 * Carries out what {@link AuthRelay} decides for each message a server sends during a relayed login: relay it to
 * the client, swap the cancel key, move on to the next host, fail the session, or, at the first ReadyForQuery,
 * check the server's role and start forwarding.
 */
final class RelayedLogin {
    private RelayedLogin() {
    }

    static void onServerMessage(ClientSession session, ProxyContext proxy, Channel client, SessionState.Relaying r,
                                ByteBuf frame) {
        byte type = frame.getByte(frame.readerIndex());
        if (r.relay() instanceof AuthRelay relayed) {
            proxy.loginTiming().onServerMessage(type, relayed, r.login().startNanos(), relayed.takeClientSpoke());
        }
        List<AuthRelay.Decision> decisions = r.relay().onMessage(frame, r.server().laterHostAvailable(), client.alloc());
        for (AuthRelay.Decision d : decisions) {
            if (session.state() != r) {
                AuthRelay.release(d);
                continue;
            }
            switch (d) {
                case AuthRelay.Relay m -> client.write(m.message());
                case AuthRelay.Drop m -> {
                }
                case AuthRelay.ToServer m -> {
                    r.server().write(m.message());
                    r.server().flush();
                }
                case AuthRelay.RelayError e -> {
                    if (SqlState.INVALID_PASSWORD.equals(e.sqlState()) && proxy.hideUnknownUsers()) {
                        proxy.loginTiming().rememberPasswordFailureLocation(e.message());
                    }
                    session.logLoginFailure("backend refused login sqlstate=" + e.sqlState());
                    proxy.metrics().error(e.sqlState());
                    client.write(e.message());
                }
                case AuthRelay.SwapKey k -> {
                    var target = new CancelRegistry.Target(r.server().host().address(), k.processId(), k.secret());
                    CancelRegistry.Entry ours = session.swapCancelKey(target,
                            r.relay().protocolMinor() >= 2 ? CancelRegistry.LONG_SECRET : 4);
                    client.write(new BackendKeyData(ours.processId(), ours.secret()).encode(client.alloc()));
                }
                case AuthRelay.NextHost n -> r.server().nextHost(n.why());
                case AuthRelay.Fail f -> {
                    session.logLoginFailure(f.logReason());
                    session.fail(f.error());
                }
                case AuthRelay.Ready ready -> onReady(session, client, r, ready.message());
            }
        }
        if (session.state() == r && r.relay().clientTookPart()) {
            r.server().commit();
        }
    }

    /** The first ReadyForQuery: the server's role is checked against target_session_attrs, then bytes pass through. */
    private static void onReady(ClientSession session, Channel client, SessionState.Relaying r, ByteBuf readyForQuery) {
        String mismatch = r.server().roleMismatch();
        if (mismatch != null) {
            readyForQuery.release();
            var attrs = r.backend().targetSessionAttrs();
            ClientSession.log.warn("backend role does not match client={} user={} backend={} target_session_attrs={}"
                            + " error=\"{}\"", session.clientAddress(), session.logUser(), r.server().host().endpoint(),
                    attrs.libpqName(), mismatch);
            session.logLoginFailure("target_session_attrs not matched");
            session.fail(ErrorResponse.fatal(SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                    "no server matching target_session_attrs=" + attrs.libpqName() + ": " + mismatch,
                    "pgmux has noted this server's role: a new connection tries the backend's other hosts first."));
            return;
        }
        client.write(readyForQuery);
        session.startForwarding(r);
    }
}
