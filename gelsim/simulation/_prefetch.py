"""A software-prefetch hint for Numba kernels (LLVM's ``llvm.prefetch``)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, arr, flat_index):
    """Ask the CPU to start loading element ``flat_index`` of C-contiguous ``arr`` into cache.

    A hint only: it never faults and changes no value, so a stale or out-of-date index costs at most a
    wasted memory read. Kernels that chase pointers through large tables issue it one step ahead.
    """
    if not isinstance(arr, types.Array) or not isinstance(flat_index, types.Integer):
        return None
    sig = types.void(arr, flat_index)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read (0), high temporal locality (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
