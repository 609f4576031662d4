package dev.pgmux.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * A minimal PostgreSQL protocol client on a plain socket, for tests that need bytes no driver sends: protocol
 * 3.2 and 3.99, {@code _pq_.} options, direct TLS, malformed packets.
 */
public final class RawClient implements AutoCloseable {
    /** One backend message. */
    public record Message(char type, byte[] body) {
        public int int32(int offset) {
            return ((body[offset] & 0xFF) << 24) | ((body[offset + 1] & 0xFF) << 16) | ((body[offset + 2] & 0xFF) << 8)
                    | (body[offset + 3] & 0xFF);
        }

        /** A field of an ErrorResponse/NoticeResponse. */
        public String field(char code) {
            int i = 0;
            while (i < body.length && body[i] != 0) {
                char t = (char) body[i++];
                int start = i;
                while (body[i] != 0) {
                    i++;
                }
                if (t == code) {
                    return new String(body, start, i - start, StandardCharsets.UTF_8);
                }
                i++;
            }
            return null;
        }
    }

    private Socket socket;
    /** A Unix-domain connection instead of {@link #socket} (no read timeout: tests using it set their own). */
    private SocketChannel unixChannel;
    private DataInputStream in;
    private DataOutputStream out;

    public RawClient(String host, int port) throws IOException {
        this(new Socket(host, port));
    }

    private RawClient(Socket socket) throws IOException {
        use(socket);
        socket.setSoTimeout(15_000);
    }

    private void use(Socket s) throws IOException {
        this.socket = s;
        this.in = new DataInputStream(s.getInputStream());
        this.out = new DataOutputStream(s.getOutputStream());
    }

    /** Connects to a Unix-domain socket ({@code DIR/.s.PGSQL.PORT}). */
    public static RawClient unix(Path socketFile) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socketFile));
        RawClient c = new RawClient();
        c.unixChannel = ch;
        c.in = new DataInputStream(Channels.newInputStream(ch));
        c.out = new DataOutputStream(Channels.newOutputStream(ch));
        return c;
    }

    private RawClient() {
    }

    /** A CancelRequest on a new Unix-domain connection, as libpq sends one for a session on that socket. */
    public static void sendCancel(Path socketFile, int pid, byte[] secret) throws IOException {
        try (RawClient c = unix(socketFile)) {
            c.out.writeInt(12 + secret.length);
            c.out.writeInt(80877102);
            c.out.writeInt(pid);
            c.out.write(secret);
            c.out.flush();
            c.in.read(); // wait for the close
        }
    }

    /** Opens a TLS connection at once (PostgreSQL 17 "direct SSL"), with the given ALPN protocols (none if empty). */
    public static RawClient directTls(String host, int port, Path caCert, String... alpn) throws Exception {
        SSLSocket s = (SSLSocket) sslContext(caCert).getSocketFactory().createSocket(host, port);
        SSLParameters params = s.getSSLParameters();
        if (alpn.length > 0) {
            params.setApplicationProtocols(alpn);
        }
        s.setSSLParameters(params);
        s.startHandshake();
        return new RawClient(s);
    }

    /** Sends SSLRequest; on 'S' upgrades this client to TLS. Returns the answer byte. */
    public char sslRequest(Path caCert, String host) throws Exception {
        return sslRequest(sslContext(caCert), host);
    }

    /** Sends SSLRequest; on 'S' upgrades this client to TLS with the given context. Returns the answer byte. */
    public char sslRequest(SSLContext context, String host) throws Exception {
        out.writeInt(8);
        out.writeInt(80877103);
        out.flush();
        char answer = (char) in.readByte();
        if (answer == 'S') {
            SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(socket, host, socket.getPort(), true);
            s.startHandshake();
            use(s);
        }
        return answer;
    }

    /** The server's certificate, for a TLS connection. */
    public X509Certificate peerCertificate() throws Exception {
        return (X509Certificate) ((SSLSocket) socket).getSession().getPeerCertificates()[0];
    }

    /** A context that trusts any certificate, for tests that look at which certificate a server presents. */
    public static SSLContext trustAll() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        return ctx;
    }

    public static SSLContext sslContext(Path caCert) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (var is = Files.newInputStream(caCert)) {
            ks.setCertificateEntry("ca", (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(is));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    public static byte[] startupPacket(int major, int minor, Map<String, String> params) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        params.forEach((k, v) -> {
            body.writeBytes(k.getBytes(StandardCharsets.UTF_8));
            body.write(0);
            body.writeBytes(v.getBytes(StandardCharsets.UTF_8));
            body.write(0);
        });
        body.write(0);
        byte[] b = body.toByteArray();
        ByteArrayOutputStream packet = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(packet);
        try {
            d.writeInt(8 + b.length);
            d.writeInt((major << 16) | minor);
            d.write(b);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return packet.toByteArray();
    }

    public static Map<String, String> params(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    public RawClient startup(int minor, Map<String, String> params) throws IOException {
        return send(startupPacket(3, minor, params));
    }

    public RawClient send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /**
     * Logs in as a user the server lets in without a password (trust) and reads up to ReadyForQuery.
     *
     * @return the process id and the secret (protocol 3.0: 4 bytes) of the cancel key
     */
    public int[] loginWithoutPassword(String user, String database) throws IOException {
        startup(0, params("user", user, "database", database));
        Message key = readUntil('K');
        readUntil('Z');
        return new int[] {key.int32(0), key.int32(4)};
    }

    /** Runs a simple query and returns the first column of its first row as text. */
    public String queryOne(String sql) throws IOException {
        query(sql);
        byte[] row = readUntil('D').body();
        readUntil('Z');
        int length = ((row[2] & 0xFF) << 24) | ((row[3] & 0xFF) << 16) | ((row[4] & 0xFF) << 8) | (row[5] & 0xFF);
        return new String(row, 6, length, StandardCharsets.UTF_8);
    }

    public RawClient query(String sql) throws IOException {
        byte[] q = sql.getBytes(StandardCharsets.UTF_8);
        out.writeByte('Q');
        out.writeInt(4 + q.length + 1);
        out.write(q);
        out.writeByte(0);
        out.flush();
        return this;
    }

    public Message read() throws IOException {
        char type = (char) in.readUnsignedByte();
        int len = in.readInt();
        byte[] body = new byte[len - 4];
        in.readFully(body);
        return new Message(type, body);
    }

    /** Reads until a message of this type arrives and returns it. */
    public Message readUntil(char type) throws IOException {
        while (true) {
            Message m = read();
            if (m.type() == type) {
                return m;
            }
        }
    }

    /** Reads one byte, or -1 at end of stream. */
    public int readByte() throws IOException {
        return in.read();
    }

    /** True if the server closed the connection (end of stream) before sending anything more. */
    public boolean closedByServer() {
        try {
            return in.read() < 0;
        } catch (EOFException e) {
            return true;
        } catch (IOException e) {
            return true; // reset
        }
    }

    public void setTimeout(int millis) throws IOException {
        if (socket != null) {
            socket.setSoTimeout(millis);
        }
    }

    public void sendCancel(String host, int port, int pid, byte[] secret) throws IOException {
        sendCancel(host, port, 80877102, pid, secret);
    }

    /** A cancel request with another request code (pgmux's peer cancel, say). */
    public void sendCancel(String host, int port, int code, int pid, byte[] secret) throws IOException {
        try (Socket s = new Socket(host, port); DataOutputStream d = new DataOutputStream(s.getOutputStream())) {
            d.writeInt(12 + secret.length);
            d.writeInt(code);
            d.writeInt(pid);
            d.write(secret);
            d.flush();
            s.getInputStream().read(); // wait for the close
        }
    }

    @Override
    public void close() throws IOException {
        if (unixChannel != null) {
            unixChannel.close();
        } else {
            socket.close();
        }
    }
}
