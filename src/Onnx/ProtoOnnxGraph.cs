using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace MLNetFusion.Onnx;

/// <summary>The <see cref="OnnxGraph"/> written into ONNX's protobuf messages (classes generated from <c>onnx.proto</c>).</summary>
internal sealed class ProtoOnnxGraph : OnnxGraph
{
    public GraphProto Graph { get; } = new() { Name = "mlnetfusion" };

    public override string Constant(string hint, ReadOnlySpan<float> values, long[] shape)
        => Add(hint, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values), shape);

    public override string Constant(string hint, ReadOnlySpan<double> values, long[] shape)
        => Add(hint, TensorProto.Types.DataType.Double, MemoryMarshal.AsBytes(values), shape);

    public override string Constant(string hint, ReadOnlySpan<long> values, long[] shape)
        => Add(hint, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values), shape);

    public override string Constant(string hint, IReadOnlyList<string> values, long[] shape)
    {
        var t = NewTensor(hint, TensorProto.Types.DataType.String, shape);
        foreach (var v in values) t.StringData.Add(ByteString.CopyFromUtf8(v));
        Graph.Initializer.Add(t);
        return t.Name;
    }

    private string Add(string hint, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes, long[] shape)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX's raw tensor data is little-endian.");
        var t = NewTensor(hint, type, shape);
        t.RawData = ByteString.CopyFrom(bytes);
        Graph.Initializer.Add(t);
        return t.Name;
    }

    private TensorProto NewTensor(string hint, TensorProto.Types.DataType type, long[] shape)
    {
        var t = new TensorProto { Name = UniqueName(hint), DataType = (int)type };
        t.Dims.AddRange(shape);
        return t;
    }

    public override string[] Node(string opType, IReadOnlyList<string> inputs, int outputs, params OnnxAttribute[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = UniqueName(opType) };
        node.Input.AddRange(inputs);
        for (int i = 0; i < outputs; i++) node.Output.Add(UniqueName(opType.ToLowerInvariant()));
        foreach (var a in attributes) node.Attribute.Add(ToProto(a));
        Graph.Node.Add(node);
        return node.Output.ToArray();
    }

    /// <summary>
    /// Drops the nodes whose values reach none of <paramref name="outputs"/>: an encoder writes every stage (network fusion
    /// reads them) and a family reads what it needs, and ONNX Runtime runs every node of a graph, read or not. Nodes are
    /// in topological order, so one pass from the last keeps exactly what the outputs need.
    /// </summary>
    public void RemoveDeadNodes(IEnumerable<string> outputs)
    {
        var needed = new HashSet<string>(outputs, StringComparer.Ordinal);
        var keep = new bool[Graph.Node.Count];
        for (int i = Graph.Node.Count - 1; i >= 0; i--)
        {
            var node = Graph.Node[i];
            if (!node.Output.Any(needed.Contains)) continue;
            keep[i] = true;
            foreach (var input in node.Input) needed.Add(input);
        }
        var live = Graph.Node.Where((_, i) => keep[i]).ToList();
        Graph.Node.Clear();
        Graph.Node.AddRange(live);
    }

    /// <summary>Drops constants no node reads (helpers may write a constant a branch then does not use).</summary>
    public void RemoveUnusedInitializers()
    {
        var used = Graph.Node.SelectMany(n => n.Input).ToHashSet();
        var unused = Graph.Initializer.Where(t => !used.Contains(t.Name)).ToList();
        foreach (var t in unused) Graph.Initializer.Remove(t);
    }

    /// <summary>Adds a node whose output has a given name (graph outputs).</summary>
    public void Identity(string input, string output)
    {
        var node = new NodeProto { OpType = "Identity", Name = UniqueName("Identity") };
        node.Input.Add(input);
        node.Output.Add(output);
        Graph.Node.Add(node);
    }

    private static AttributeProto ToProto(OnnxAttribute a)
    {
        var p = new AttributeProto { Name = a.Name };
        if (a.Int is long i) { p.Type = AttributeProto.Types.AttributeType.Int; p.I = i; }
        else if (a.Float is float f) { p.Type = AttributeProto.Types.AttributeType.Float; p.F = f; }
        else if (a.String is string s) { p.Type = AttributeProto.Types.AttributeType.String; p.S = ByteString.CopyFromUtf8(s); }
        else if (a.Ints is long[] ints) { p.Type = AttributeProto.Types.AttributeType.Ints; p.Ints.AddRange(ints); }
        else if (a.Floats is float[] floats) { p.Type = AttributeProto.Types.AttributeType.Floats; p.Floats.AddRange(floats); }
        else throw new ArgumentException($"Attribute '{a.Name}' has no value.");
        return p;
    }

    /// <summary>A <c>[batch, size]</c> tensor's type, the batch dimension dynamic.</summary>
    public static ValueInfoProto ValueInfo(string name, OnnxElementType type, long size)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = size });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
