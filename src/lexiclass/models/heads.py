"""The output layer, loss and compile step shared by every Keras model family."""

import keras


def layer_dtype(config) -> str:
    """The dtype policy of every layer but the output: ``mixed_bfloat16`` computes in bfloat16, keeps float32 weights.
    ``auto`` is resolved here too, for models built outside `lexiclass.training.fit.train`."""
    from lexiclass.precision import resolve

    return "mixed_bfloat16" if resolve(config.precision, keras.backend.backend())[0] == "bfloat16" else "float32"


def classification_head(x, num_classes: int, multi_label: bool = False):
    """One sigmoid unit for two classes, a softmax over ``num_classes`` otherwise; multi-label: one sigmoid per
    label (each an independent yes/no). Always float32 for stable losses."""
    if multi_label:
        return keras.layers.Dense(num_classes, activation="sigmoid", dtype="float32", name="classifier")(x)
    if num_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="classifier")(x)  # (batch, 1)
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="classifier")(x)


def compile_model(model: keras.Model, num_classes: int, config) -> keras.Model:
    from lexiclass.backend import jit_compile

    multi_label = getattr(config, "multi_label", False)
    # Multi-label: one binary cross-entropy per label, averaged; "accuracy" is then the share of right yes/no answers.
    loss = "binary_crossentropy" if num_classes == 2 or multi_label else "sparse_categorical_crossentropy"
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=config.learning_rate),
        loss=loss,
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy") if multi_label else "accuracy"],
        jit_compile=jit_compile(config.jit_compile),
    )
    return model


def _float32_policies(value):
    """A serialized Keras config with every ``mixed_bfloat16`` dtype policy replaced by ``float32``."""
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy" and value.get("config", {}).get("name") == "mixed_bfloat16":
            return {**value, "config": {**value["config"], "name": "float32"}}
        return {key: _float32_policies(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_float32_policies(item) for item in value]
    return "float32" if value == "mixed_bfloat16" else value


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` computing in float32 with the same weights (a bfloat16 run keeps float32 weights, so nothing
    is rounded). Exporters use it: ONNX has no mixed bfloat16 kernels, and float32 runs everywhere."""
    config = keras.saving.serialize_keras_object(model)
    float32_config = _float32_policies(config)
    if float32_config == config:  # a float32 run already
        return model
    copy = keras.saving.deserialize_keras_object(float32_config)
    copy.set_weights(model.get_weights())
    return copy
