package dev.pgmux.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.pgmux.routing.BackendSpec;
import java.io.IOException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * YAML text plus {@link Setting}s into a {@link RawConfig}. The file becomes a tree, each setting replaces its
 * key in the tree, and the tree is bound to the records; a key the records do not know is an error, never
 * silently ignored.
 */
final class ConfigReader {
    private static final YAMLMapper MAPPER = YAMLMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
            .build();

    /** The merged settings and where each came from. */
    record Result(RawConfig raw, Origins origins) {
    }

    private ConfigReader() {
    }

    /**
     * @param name     the file's name as errors should show it; null when there is no file
     * @param text     the file's content (null: no file)
     * @param settings environment variables and flags, later ones winning
     */
    static Result read(String name, String text, List<Setting> settings) throws ConfigException {
        Origins origins;
        ObjectNode tree;
        if (text == null) {
            origins = new Origins(new Origins.Origin("command line", 0));
            tree = MAPPER.createObjectNode();
        } else {
            try (JsonParser p = MAPPER.createParser(text)) {
                origins = Origins.ofDocument(p, name);
            } catch (JsonProcessingException e) {
                throw new ConfigException(syntaxError(name, e));
            } catch (IOException e) {
                throw new ConfigException(new ConfigError(name, "", e.getMessage()));
            }
            JsonNode root;
            try {
                root = MAPPER.readTree(text);
            } catch (JsonProcessingException e) {
                throw new ConfigException(syntaxError(name, e));
            }
            if (root == null || root.isMissingNode() || root.isNull()) {
                tree = MAPPER.createObjectNode();
            } else if (root instanceof ObjectNode object) {
                tree = object;
            } else {
                throw new ConfigException(new ConfigError(name + ":1", "",
                        "the file must be a mapping of keys (listen:, routes:, ...), not " + describe(root)));
            }
        }
        for (Setting s : settings) {
            origins.replace(put(tree, s), s.origin());
        }
        try {
            return new Result(MAPPER.treeToValue(tree, RawConfig.class), origins);
        } catch (JsonMappingException e) {
            Key key = Key.of(e.getPath());
            throw new ConfigException(new ConfigError(origins.of(key.pointer()).toString(), key.dotted(),
                    message(e, tree.at(key.pointer()))));
        } catch (JsonProcessingException e) {
            throw new ConfigException(new ConfigError(origins.of(JsonPointer.empty()).toString(), "", e.getOriginalMessage()));
        }
    }

    /** Sets a setting's value in the tree, creating (or replacing non-mapping) parents; returns its pointer. */
    private static JsonPointer put(ObjectNode tree, Setting s) {
        ObjectNode parent = tree;
        JsonPointer pointer = JsonPointer.empty();
        List<String> key = s.key();
        for (String k : key.subList(0, key.size() - 1)) {
            pointer = pointer.appendProperty(k);
            JsonNode child = parent.get(k);
            parent = child instanceof ObjectNode o ? o : parent.putObject(k);
        }
        String last = key.get(key.size() - 1);
        parent.set(last, MAPPER.valueToTree(s.value()));
        return pointer.appendProperty(last);
    }

    private static ConfigError syntaxError(String name, JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        String origin = at == null || at.getLineNr() < 1 ? name : name + ":" + at.getLineNr();
        String message;
        if (e.getCause() instanceof MarkedYAMLException m) {
            // SnakeYAML's own message repeats the position with a drawing of the line; keep what and why.
            message = (m.getContext() == null ? "" : m.getContext() + ": ") + m.getProblem();
        } else {
            message = e.getOriginalMessage();
            if (message.startsWith("Duplicate field ")) {
                message = "duplicate key " + message.substring("Duplicate field ".length());
            }
            int nl = message.indexOf('\n');
            message = nl > 0 ? message.substring(0, nl) : message;
        }
        return new ConfigError(origin, "", "YAML: " + message.trim());
    }

    private static String message(JsonMappingException e, JsonNode value) {
        return switch (e) {
            case UnrecognizedPropertyException u -> "unknown key" + known(u.getKnownPropertyIds());
            case InvalidFormatException f -> "expected " + describe(f.getTargetType()) + ", not " + describe(value);
            case MismatchedInputException m -> "expected " + describe(m.getTargetType()) + ", not " + describe(value);
            case ValueInstantiationException v when v.getCause() != null -> v.getCause().getMessage();
            default -> e.getOriginalMessage();
        };
    }

    private static String known(Collection<Object> ids) {
        if (ids == null || ids.isEmpty()) {
            return "";
        }
        return " (known keys: " + ids.stream().map(String::valueOf).sorted().collect(Collectors.joining(", ")) + ")";
    }

    private static String describe(Class<?> type) {
        if (type == null) {
            return "another kind of value";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "a whole number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type == String.class) {
            return "text";
        }
        if (List.class.isAssignableFrom(type) || Collection.class.isAssignableFrom(type)) {
            return "a list";
        }
        if (type == BackendSpec.class) {
            return "a route: a mapping (host:, port:, user:, ...) or [USER@]HOST:PORT[/DATABASE]";
        }
        if (Map.class.isAssignableFrom(type) || type.isRecord()) {
            return "a mapping of keys";
        }
        return type.getSimpleName();
    }

    private static String describe(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        if (node.isObject()) {
            return "a mapping";
        }
        if (node.isArray()) {
            return "a list";
        }
        if (node.isNull()) {
            return "null";
        }
        return node.isTextual() ? "\"" + node.asText() + "\"" : node.asText();
    }
}
