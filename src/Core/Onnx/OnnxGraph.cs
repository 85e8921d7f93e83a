using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Onnx;

/// <summary>An attribute of an ONNX node: an integer, a float, a string, or a list of integers or floats.</summary>
public sealed record OnnxAttribute(string Name, long? Int = null, float? Float = null, string? String = null, long[]? Ints = null, float[]? Floats = null)
{
    /// <summary>An integer attribute.</summary>
    public static OnnxAttribute Of(string name, long value) => new(name, Int: value);
    /// <summary>A float attribute.</summary>
    public static OnnxAttribute Of(string name, float value) => new(name, Float: value);
    /// <summary>A string attribute.</summary>
    public static OnnxAttribute Of(string name, string value) => new(name, String: value);
    /// <summary>A list-of-integers attribute.</summary>
    public static OnnxAttribute Of(string name, params long[] values) => new(name, Ints: values);
}

/// <summary>The element types MLNetFusion's graphs use (values of ONNX's <c>TensorProto.DataType</c>).</summary>
public enum OnnxElementType
{
    /// <summary>float32.</summary>
    Float = 1,
    /// <summary>uint32 (ML.NET's key type).</summary>
    UInt32 = 12,
    /// <summary>int64.</summary>
    Int64 = 7,
    /// <summary>string.</summary>
    String = 8,
    /// <summary>bool.</summary>
    Bool = 9,
    /// <summary>float64.</summary>
    Double = 11,
    /// <summary>int32.</summary>
    Int32 = 6,
}

/// <summary>
/// Writes one ONNX graph (opset <see cref="Opset"/>): constants and nodes, each returning the name of the value it
/// produces. MLNetFusion's modules and transformers describe their inference computation through it; the
/// <c>MLNetFusion.Onnx</c> package implements it with the protobuf classes generated from <c>onnx.proto</c>.
/// </summary>
/// <remarks>Tensors carry a leading batch dimension of any size; helpers document the shapes they expect.</remarks>
public abstract class OnnxGraph
{
    /// <summary>The ONNX operator set every node is written for.</summary>
    public const int Opset = 17;

    private readonly Stack<string> _scopes = new();
    private int _counter;

    /// <summary>A new unique value name that starts with the current scope and <paramref name="hint"/>.</summary>
    public string UniqueName(string hint)
    {
        var scope = _scopes.Count == 0 ? "" : string.Join("/", _scopes.Reverse()) + "/";
        return $"{scope}{hint}_{_counter++.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>Prefixes the names of the values written until the returned scope is disposed (for readable graphs).</summary>
    public IDisposable Scope(string name)
    {
        _scopes.Push(name);
        return new PopScope(_scopes);
    }

    private sealed class PopScope(Stack<string> scopes) : IDisposable
    {
        private bool _done;
        public void Dispose() { if (!_done) scopes.Pop(); _done = true; }
    }

    /// <summary>Adds a float constant (an initializer) and returns its name.</summary>
    public abstract string Constant(string hint, ReadOnlySpan<float> values, long[] shape);

    /// <summary>Adds a double constant and returns its name.</summary>
    public abstract string Constant(string hint, ReadOnlySpan<double> values, long[] shape);

    /// <summary>Adds an int64 constant and returns its name.</summary>
    public abstract string Constant(string hint, ReadOnlySpan<long> values, long[] shape);

    /// <summary>Adds a string constant and returns its name.</summary>
    public abstract string Constant(string hint, IReadOnlyList<string> values, long[] shape);

    /// <summary>Adds a node with <paramref name="outputs"/> outputs and returns their names.</summary>
    public abstract string[] Node(string opType, IReadOnlyList<string> inputs, int outputs, params OnnxAttribute[] attributes);

    /// <summary>Adds a node with one output and returns its name.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes) => Node(opType, inputs, 1, attributes)[0];

    // ---- constants ----

    /// <summary>A float scalar constant.</summary>
    public string Scalar(float value) => Constant("c", new[] { value }, Array.Empty<long>());

    /// <summary>An int64 vector constant (shapes, axes, indices).</summary>
    public string Ints(params long[] values) => Constant("i", values, new long[] { values.Length });

    /// <summary>A constant holding a TorchSharp tensor's values (float32, on any device), with its shape.</summary>
    public string Constant(string hint, Tensor t)
    {
        using var cpu = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return Constant(hint, cpu.data<float>().ToArray(), cpu.shape);
    }

    // ---- elementwise ----

    /// <summary><c>a + b</c> (broadcasting).</summary>
    public string Add(string a, string b) => Node("Add", new[] { a, b });
    /// <summary><c>a - b</c>.</summary>
    public string Sub(string a, string b) => Node("Sub", new[] { a, b });
    /// <summary><c>a * b</c>.</summary>
    public string Mul(string a, string b) => Node("Mul", new[] { a, b });
    /// <summary><c>a / b</c>.</summary>
    public string Div(string a, string b) => Node("Div", new[] { a, b });
    /// <summary><c>max(x, 0)</c>.</summary>
    public string Relu(string x) => Node("Relu", new[] { x });
    /// <summary>The logistic sigmoid.</summary>
    public string Sigmoid(string x) => Node("Sigmoid", new[] { x });
    /// <summary>Hyperbolic tangent.</summary>
    public string Tanh(string x) => Node("Tanh", new[] { x });
    /// <summary>Square root.</summary>
    public string Sqrt(string x) => Node("Sqrt", new[] { x });
    /// <summary>Natural logarithm.</summary>
    public string Log(string x) => Node("Log", new[] { x });
    /// <summary>Elementwise maximum.</summary>
    public string Max(string a, string b) => Node("Max", new[] { a, b });
    /// <summary><c>cond ? a : b</c> (broadcasting).</summary>
    public string Where(string condition, string a, string b) => Node("Where", new[] { condition, a, b });
    /// <summary>Casts to <paramref name="type"/>.</summary>
    public string Cast(string x, OnnxElementType type) => Node("Cast", new[] { x }, OnnxAttribute.Of("to", (long)type));
    /// <summary>GELU with the exact error function (TorchSharp's <c>nn.GELU()</c> default): <c>x/2 (1 + erf(x/√2))</c>.</summary>
    public string Gelu(string x) => Mul(Mul(x, Scalar(0.5f)), Add(Node("Erf", new[] { Div(x, Scalar((float)Math.Sqrt(2))) }), Scalar(1f)));

    // ---- shapes ----

    /// <summary>Reshapes <paramref name="x"/> (ONNX semantics: 0 copies the input's dimension, -1 is inferred).</summary>
    public string Reshape(string x, params long[] shape) => Node("Reshape", new[] { x, Ints(shape) });
    /// <summary>Inserts axes of size 1.</summary>
    public string Unsqueeze(string x, params long[] axes) => Node("Unsqueeze", new[] { x, Ints(axes) });
    /// <summary>Removes axes of size 1.</summary>
    public string Squeeze(string x, params long[] axes) => Node("Squeeze", new[] { x, Ints(axes) });
    /// <summary>Permutes the axes.</summary>
    public string Transpose(string x, params long[] perm) => Node("Transpose", new[] { x }, OnnxAttribute.Of("perm", perm));
    /// <summary>Concatenates along <paramref name="axis"/> (the input itself when there is one).</summary>
    public string Concat(long axis, IReadOnlyList<string> parts) => parts.Count == 1 ? parts[0] : Node("Concat", parts, OnnxAttribute.Of("axis", axis));
    /// <summary>Stacks <c>[B, ...]</c> tensors along a new axis 1.</summary>
    public string Stack1(IReadOnlyList<string> parts) => Concat(1, parts.Select(p => Unsqueeze(p, 1)).ToArray());
    /// <summary>Index <paramref name="index"/> of axis <paramref name="axis"/>, that axis removed.</summary>
    public string Select(string x, long axis, long index) => Node("Gather", new[] { x, Constant("idx", new[] { index }, Array.Empty<long>()) }, OnnxAttribute.Of("axis", axis));
    /// <summary>Slices <c>[start, end)</c> of one axis.</summary>
    public string Slice(string x, long axis, long start, long end) => Node("Slice", new[] { x, Ints(start), Ints(end), Ints(axis) });

    // ---- reductions (opset 17: ReduceSum takes its axes as an input, the others as an attribute) ----

    /// <summary>Sum over <paramref name="axes"/>.</summary>
    public string ReduceSum(string x, bool keepDims, params long[] axes)
        => Node("ReduceSum", new[] { x, Ints(axes) }, OnnxAttribute.Of("keepdims", keepDims ? 1L : 0L));
    /// <summary>A reduction other than the sum (<c>ReduceMean</c>, <c>ReduceMax</c>, <c>ReduceMin</c>, <c>ReduceProd</c>).</summary>
    public string Reduce(string op, string x, bool keepDims, params long[] axes)
        => op == "ReduceSum" ? ReduceSum(x, keepDims, axes) : Node(op, new[] { x }, OnnxAttribute.Of("axes", axes), OnnxAttribute.Of("keepdims", keepDims ? 1L : 0L));
    /// <summary>Mean over <paramref name="axes"/>.</summary>
    public string ReduceMean(string x, bool keepDims, params long[] axes) => Reduce("ReduceMean", x, keepDims, axes);

    /// <summary>ML.NET's predicted key from <c>[B, K]</c> scores: the first largest class, plus 1, as <c>[B, 1]</c> uint32.</summary>
    public string PredictedKey(string scores)
    {
        var index = Node("ArgMax", new[] { scores }, OnnxAttribute.Of("axis", 1L), OnnxAttribute.Of("keepdims", 1L));
        return Cast(Add(index, Constant("one", new long[] { 1 }, Array.Empty<long>())), OnnxElementType.UInt32);
    }

    // ---- layers ----

    /// <summary>Softmax over <paramref name="axis"/>.</summary>
    public string Softmax(string x, long axis = -1) => Node("Softmax", new[] { x }, OnnxAttribute.Of("axis", axis));
    /// <summary>Log-softmax over <paramref name="axis"/>.</summary>
    public string LogSoftmax(string x, long axis = -1) => Node("LogSoftmax", new[] { x }, OnnxAttribute.Of("axis", axis));
    /// <summary><c>x · W + b</c> with a constant <c>W</c> of shape <c>[in, out]</c> (any leading dimensions).</summary>
    public string MatMul(string a, string b) => Node("MatMul", new[] { a, b });

    /// <summary>A TorchSharp <see cref="Linear"/> layer on <c>[..., in]</c>.</summary>
    public string Linear(Linear layer, string x)
    {
        var w = Constant("weight", layer.weight!.t());
        var y = MatMul(x, w);
        return layer.bias is null ? y : Add(y, Constant("bias", layer.bias));
    }

    /// <summary>A TorchSharp <see cref="LayerNorm"/> over the last axis.</summary>
    public string LayerNorm(LayerNorm layer, string x)
    {
        if (layer.normalized_shape.Length != 1) throw new NotSupportedException("Only a layer norm over the last axis can be exported.");
        var scale = layer.weight is null ? Constant("ones", Enumerable.Repeat(1f, (int)layer.normalized_shape[0]).ToArray(), layer.normalized_shape) : Constant("ln_w", layer.weight);
        var inputs = layer.bias is null ? new[] { x, scale } : new[] { x, scale, Constant("ln_b", layer.bias) };
        return Node("LayerNormalization", inputs, OnnxAttribute.Of("axis", -1L), OnnxAttribute.Of("epsilon", (float)layer.eps));
    }

    /// <summary>
    /// A TorchSharp <see cref="Sequential"/> of the layers MLNetFusion builds (<c>Linear</c>, <c>ReLU</c>, <c>GELU</c>,
    /// <c>Dropout</c>, <c>Conv2d</c>, <c>BatchNorm2d</c>, <c>MaxPool2d</c> and its faster form <c>MaxPool2x2</c>, <c>LayerNorm</c>), in inference mode.
    /// </summary>
    /// <exception cref="NotSupportedException">A layer of another kind; the message names it.</exception>
    public string Sequential(nn.Module sequence, string x)
    {
        foreach (var (_, layer) in sequence.named_children()) x = Layer(layer, x);
        return x;
    }

    /// <summary>One layer of <see cref="Sequential"/>.</summary>
    public string Layer(nn.Module layer, string x) => layer switch
    {
        Linear l => Linear(l, x),
        ReLU => Relu(x),
        GELU => Gelu(x),
        Dropout => x,                                  // identity at inference
        LayerNorm ln => LayerNorm(ln, x),
        Conv2d c => Conv2d(c, x),
        BatchNorm2d bn => BatchNorm(bn, x),
        MaxPool2d p => Node("MaxPool", new[] { x }, OnnxAttribute.Of("kernel_shape", p.kernel_size), OnnxAttribute.Of("strides", p.stride ?? p.kernel_size),
            OnnxAttribute.Of("pads", (p.padding ?? new long[] { 0, 0 }).Concat(p.padding ?? new long[] { 0, 0 }).ToArray()), OnnxAttribute.Of("ceil_mode", p.ceil_mode ? 1L : 0L)),
        MLNetFusion.Models.MaxPool2x2 => Node("MaxPool", new[] { x }, OnnxAttribute.Of("kernel_shape", new long[] { 2, 2 }), OnnxAttribute.Of("strides", new long[] { 2, 2 })),
        Sequential s => Sequential(s, x),
        _ => throw new NotSupportedException($"A {layer.GetType().Name} layer cannot be exported to ONNX." + Environment.NewLine +
            "Hint: MLNetFusion exports the layers its own networks build; a custom layer needs an ONNX description of its own."),
    };

    private string Conv2d(Conv2d c, string x)
    {
        if (c.groups != 1 || c.padding_mode != PaddingModes.Zeros || c.padding is null)
            throw new NotSupportedException("Only zero-padded, ungrouped convolutions with explicit padding can be exported.");
        var inputs = new List<string> { x, Constant("conv_w", c.weight!) };
        if (c.bias is not null) inputs.Add(Constant("conv_b", c.bias));
        return Node("Conv", inputs, OnnxAttribute.Of("kernel_shape", c.kernel_size), OnnxAttribute.Of("strides", c.stride),
            OnnxAttribute.Of("dilations", c.dilation), OnnxAttribute.Of("pads", c.padding.Concat(c.padding).ToArray()));
    }

    private string BatchNorm(BatchNorm2d bn, string x)
    {
        long n = bn.num_features;
        var ones = Enumerable.Repeat(1f, (int)n).ToArray();
        var scale = bn.weight is null ? Constant("bn_w", ones, new[] { n }) : Constant("bn_w", bn.weight);
        var bias = bn.bias is null ? Constant("bn_b", new float[n], new[] { n }) : Constant("bn_b", bn.bias);
        return Node("BatchNormalization", new[] { x, scale, bias, Constant("bn_mean", bn.running_mean!), Constant("bn_var", bn.running_var!) },
            OnnxAttribute.Of("epsilon", (float)bn.eps));
    }
}
