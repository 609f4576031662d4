package dev.pgmux.reliability;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A raw client socket for hostile tests: it sends any bytes, ends the connection in any way (half-close, FIN,
 * RST), and reads what the server answers until the server closes or a deadline passes.
 */
final class Peer implements AutoCloseable {
    static final String HOST = "127.0.0.1";

    /** One backend message. */
    record Message(char type, byte[] body) {
        /** A field of an ErrorResponse or NoticeResponse, or null. */
        String field(char code) {
            int i = 0;
            while (i < body.length && body[i] != 0) {
                char t = (char) body[i++];
                int start = i;
                while (i < body.length && body[i] != 0) {
                    i++;
                }
                if (t == code) {
                    return new String(body, start, i - start, StandardCharsets.UTF_8);
                }
                i++;
            }
            return null;
        }

        int int32(int offset) {
            return ((body[offset] & 0xFF) << 24) | ((body[offset + 1] & 0xFF) << 16) | ((body[offset + 2] & 0xFF) << 8)
                    | (body[offset + 3] & 0xFF);
        }

        @Override
        public String toString() {
            return type == 'E' || type == 'N' ? type + "[" + field('V') + " " + field('C') + " " + field('M') + "]"
                    : type + "[" + body.length + " bytes]";
        }
    }

    /** How a reply ended. */
    enum End {
        /** The server closed the connection (FIN or RST). */
        CLOSED,
        /** ReadyForQuery arrived: the client is logged in. */
        LOGGED_IN,
        /** TLS began (the server said 'S', or answered a ClientHello); read until the close. */
        TLS,
        /** Neither a close nor ReadyForQuery before the deadline. */
        TIMEOUT,
        /** Bytes that are not a sequence of backend messages. */
        MALFORMED
    }

    /**
     * What the server sent in answer to a startup sequence: single-byte answers to SSLRequest/GSSENCRequest,
     * then messages.
     */
    record Reply(String answers, List<Message> messages, End end, Duration took) {
        /** The ErrorResponse among the messages, or null. */
        Message error() {
            return messages.stream().filter(m -> m.type() == 'E').findFirst().orElse(null);
        }

        @Override
        public String toString() {
            return "Reply[answers=" + answers + " messages=" + messages + " end=" + end + " took=" + took.toMillis()
                    + "ms]";
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    private Peer(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 16 * 1024));
        this.out = socket.getOutputStream();
        socket.setSoTimeout(15_000);
    }

    static Peer connect(int port) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(HOST, port), 5_000);
        return new Peer(s);
    }

    /** Connects with a small receive buffer, so that a server sending faster than this client reads must wait. */
    static Peer connectSlow(int port, int receiveBuffer) throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(receiveBuffer);
        s.connect(new InetSocketAddress(HOST, port), 5_000);
        return new Peer(s);
    }

    Socket socket() {
        return socket;
    }

    DataInputStream in() {
        return in;
    }

    /** Writes the bytes; false if the server had already closed the connection. */
    boolean send(byte[] bytes) {
        try {
            out.write(bytes);
            out.flush();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Sends FIN but keeps reading. */
    void halfClose() {
        try {
            socket.shutdownOutput();
        } catch (IOException e) {
            // already closed by the server
        }
    }

    /** Ends the connection with RST (SO_LINGER 0): an abrupt close, as when a client process dies. */
    void reset() {
        try {
            socket.setSoLinger(true, 0);
            socket.close();
        } catch (IOException e) {
            // already gone
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // already gone
        }
    }

    /** Sends a StartupMessage and reads until ReadyForQuery; fails on an ErrorResponse. Returns BackendKeyData. */
    Message login(Map<String, String> params) throws IOException {
        send(Frames.startup(params));
        Message key = null;
        while (true) {
            Message m = read();
            switch (m.type()) {
                case 'E' -> throw new AssertionError("login failed: " + m);
                case 'K' -> key = m;
                case 'Z' -> {
                    return key;
                }
                default -> {
                }
            }
        }
    }

    Message read() throws IOException {
        char type = (char) in.readUnsignedByte();
        int len = in.readInt();
        if (len < 4) {
            throw new IOException("bad message length " + len + " for type " + type);
        }
        byte[] body = new byte[len - 4];
        in.readFully(body);
        return new Message(type, body);
    }

    Message readUntil(char type) throws IOException {
        while (true) {
            Message m = read();
            if (m.type() == type) {
                return m;
            }
        }
    }

    /**
     * Reads the server's answer to a startup sequence until the server closes, ReadyForQuery arrives, or
     * {@code within} passes. A reset counts as a close: a server that closes while the client still sends gets
     * its last bytes discarded by TCP, as with PostgreSQL itself.
     */
    Reply awaitEnd(Duration within) {
        long start = System.nanoTime();
        long deadline = start + within.toNanos();
        StringBuilder answers = new StringBuilder();
        List<Message> messages = new ArrayList<>();
        End end;
        try {
            end = readReply(deadline, answers, messages);
        } catch (SocketTimeoutException e) {
            end = End.TIMEOUT;
        } catch (EOFException e) {
            end = End.MALFORMED; // a close inside a message
        } catch (IOException e) {
            end = End.CLOSED;
        }
        return new Reply(answers.toString(), messages, end, Duration.ofNanos(System.nanoTime() - start));
    }

    private End readReply(long deadline, StringBuilder answers, List<Message> messages) throws IOException {
        while (true) {
            int b = readByte(deadline);
            if (b < 0) {
                return End.CLOSED;
            }
            if (messages.isEmpty() && b == 'N') {
                answers.append('N');
                continue;
            }
            if (messages.isEmpty() && (b == 'S' || (b == 0x15 || b == 0x16) && answers.isEmpty())) {
                // TLS from here on: after 'S', or a TLS record (handshake or alert) at once when the client started
                // with direct TLS.
                answers.append(b == 'S' ? "S" : "");
                while (readByte(deadline) >= 0) {
                    in.skipBytes(in.available());
                }
                return End.TLS;
            }
            socket.setSoTimeout(remaining(deadline));
            int len = in.readInt();
            if (len < 4 || len > (1 << 20)) {
                return End.MALFORMED;
            }
            byte[] body = new byte[len - 4];
            in.readFully(body);
            Message m = new Message((char) b, body);
            messages.add(m);
            if (m.type() == 'Z') {
                return End.LOGGED_IN;
            }
        }
    }

    private int readByte(long deadline) throws IOException {
        socket.setSoTimeout(remaining(deadline));
        return in.read();
    }

    private static int remaining(long deadline) throws SocketTimeoutException {
        long ms = (deadline - System.nanoTime()) / 1_000_000;
        if (ms <= 0) {
            throw new SocketTimeoutException("deadline");
        }
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }
}
