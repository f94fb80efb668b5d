"""The output layer, loss and compile step shared by every Keras model family."""

import keras


def classification_head(x, num_classes: int):
    """One sigmoid unit for two classes, a softmax over ``num_classes`` otherwise."""
    if num_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name="classifier")(x)  # (batch, 1)
    return keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)  # (batch, classes)


def compile_model(model: keras.Model, num_classes: int, config) -> keras.Model:
    loss = "binary_crossentropy" if num_classes == 2 else "sparse_categorical_crossentropy"
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=config.learning_rate),
        loss=loss,
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )
    return model
