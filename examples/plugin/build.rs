//! Declares and registers every block file of src/ (weir-plugin-build).

fn main() {
    weir_plugin_build::blocks();
}
