//! Sets the linker flags a Node-API addon needs (undefined `napi_*` symbols resolved by Node at
//! load time on macOS; nothing on Linux, where `dyn-symbols` looks them up at run time).

fn main() {
    napi_build::setup();
}
