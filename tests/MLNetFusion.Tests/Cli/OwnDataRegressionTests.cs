using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.AutoML;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Transforms.Audio;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>One test per failure a new user met with their own data (issue 21), each failing before its fix.</summary>
public class OwnDataRegressionTests
{
    private static string WriteCsv(string name, string header, IEnumerable<string> rows)
    {
        var path = Path.Combine(TestData.TempFolder("own-data"), name);
        File.WriteAllText(path, header + "\n" + string.Join("\n", rows) + "\n");
        return path;
    }

    [Fact]
    public void CodesAndRepeatedStringsAreCategoriesAndHighCardinalityIsHashed()
    {
        var r = new Random(3);
        var zones = Enumerable.Range(0, 34).Select(i => $"Zone {i} Time (US & Canada)").ToArray();
        var rows = Enumerable.Range(0, 600).Select(i =>
        {
            int zip = 46000 + r.Next(46) * 7;                    // 46 distinct 5-digit codes
            string store = $"0{r.Next(10, 99)}";                   // leading zeros
            string city = $"city{r.Next(300)}";                    // 300 short repeated strings
            int customerId = r.Next(250);                          // an id that repeats, named as one
            return $"{(i % 2 == 0 ? "a" : "b")},{zones[r.Next(zones.Length)]},{zip},{store},{city},{customerId},{20 + r.Next(60)},some free text about row number {i} and more";
        });
        var path = WriteCsv("codes.csv", "Label,Timezone,Zip,Store,City,CustomerId,Age,Comment", rows);
        var result = new MLContext(1).Fusion().InferColumns(path, "Label");
        Assert.Equal(ColumnRole.Categorical, result["Timezone"].Role);           // before: free text (several words)
        Assert.Equal(ColumnRole.NumericAndCategorical, result["Zip"].Role);     // before: numeric, normalised
        Assert.Equal(ColumnRole.Categorical, result["Store"].Role);             // leading zeros: a code
        Assert.Equal(ColumnRole.Categorical, result["City"].Role);              // before: ignored as an identifier
        Assert.Equal(ColumnRole.Categorical, result["CustomerId"].Role);        // an id with repeats, by its name
        Assert.Equal(ColumnRole.Numeric, result["Age"].Role);
        Assert.Equal(ColumnRole.Text, result["Comment"].Role);
        Assert.Contains("like a zip code", result["Zip"].Reason);
        Assert.Contains("hashed to 1024 slots", result["City"].Reason);

        // The featurizer one-hots the small ones and hashes the large one: the tabular vector stays bounded.
        var ml = new MLContext(1);
        var f = result.CreateFeaturizer(ml);
        var raw = result.Load(ml);
        var data = f.WithLabel.Fit(raw).Transform(raw);
        int width = ((VectorDataViewType)data.Schema[FusionFeaturization.Tabular].Type).Size;
        // City and CustomerId hashed (1,024 slots each, never hundreds of one-hot columns); Zip one-hot and as a number.
        Assert.InRange(width, 2 * 1024 + 46 + 34, 2 * 1024 + 46 + 34 + 100 + 2);
        Assert.Equal("Age, Zip, Timezone, Store, City, CustomerId", f.Modalities.Single(m => m.ColumnName == FusionFeaturization.Tabular).Name);
    }

    [Fact]
    public void ACategoryThatLooksLikeWhereRowsComeFromIsFlaggedUnlessAGroupIsGiven()
    {
        // Airline and SpeakerId name where a row comes from and repeat; Color and Region_Code are categories like them
        // by their numbers but not by their names; Airport has too few rows per value.
        var r = new Random(5);
        var rows = Enumerable.Range(0, 400).Select(i => $"{(i % 2 == 0 ? "pos" : "neg")},{new[] { "united", "delta", "virgin", "jetblue" }[r.Next(4)]}," +
            $"spk{r.Next(6)},{new[] { "red", "green", "blue" }[r.Next(3)]},{r.Next(5)},{r.Next(150)}");
        var path = WriteCsv("groups.csv", "Label,Airline,SpeakerId,Color,Region_Code,Airport", rows);
        var result = new MLContext(1).Fusion().InferColumns(path, "Label");
        Assert.Equal(new[] { "Airline", "SpeakerId" }, result.Columns.Where(c => c.LooksLikeGroup).Select(c => c.Name));
        Assert.Contains("looks like where rows come from (4 values", result["Airline"].Reason);
        Assert.Contains("pass --group SpeakerId to select by leave-one-group-out", result["SpeakerId"].Reason);
        Assert.Equal(ColumnRole.Categorical, result["Airline"].Role);              // still a feature until the user says otherwise
        var grouped = new MLContext(1).Fusion().InferColumns(path, "Label", "Airline");
        Assert.DoesNotContain(grouped.Columns, c => c.LooksLikeGroup);           // a group is given: nothing to suggest
    }

    [Fact]
    public void ARightSkewedPositiveNumberIsLogTransformed()
    {
        var r = new Random(8);
        var path = WriteCsv("skewed.csv", "Label,Income,Height", Enumerable.Range(0, 400).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"{i % 2},{Math.Exp(10 + 1.0 * Gauss(r)):F0},{170 + 10 * Gauss(r):F1}")));
        var result = new MLContext(1).Fusion().InferColumns(path, "Label");
        Assert.True(result["Income"].LogTransform);            // before: normalised as it is, its tail dominating
        Assert.Contains("log-transformed", result["Income"].Reason);
        Assert.False(result["Height"].LogTransform);
        var ml = new MLContext(1);
        var raw = result.Load(ml);
        var tabular = result.CreateFeaturizer(ml).WithLabel.Fit(raw).Transform(raw).GetColumn<float[]>(FusionFeaturization.Tabular).ToArray();
        Assert.All(tabular, row => Assert.All(row, v => Assert.True(float.IsFinite(v))));
        // After the log the column is roughly symmetric: its largest value is a few standard deviations out, not tens.
        Assert.InRange(tabular.Max(row => Math.Abs(row[0])), 1.5, 6);
    }

    private static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    [Fact]
    public void TheLabelKeyIsLabelWithClassesSortedByValue()
    {
        var path = WriteCsv("digits.csv", "digit,x", Enumerable.Range(0, 60).Select(i => $"{new[] { 2, 10, 1, 7 }[i % 4]},{i * 0.5}"));
        var result = new MLContext(1).Fusion().InferColumns(path, "digit");
        Assert.Equal(new[] { "1", "2", "7", "10" }, result.Classes);   // numerically, not "1, 10, 2, 7" nor first appearance
        var ml = new MLContext(1);
        var f = result.CreateFeaturizer(ml);
        Assert.Equal("Label", f.LabelColumnName);
        var raw = result.Load(ml);
        // The feature chain reads no label: it fits and transforms rows without the label column.
        var noLabel = ml.Transforms.DropColumns("digit").Fit(raw).Transform(raw);
        f.Featurizer.Fit(noLabel).Transform(noLabel).Preview(1);
        var labelled = f.WithLabel.Fit(raw).Transform(raw);
        VBuffer<ReadOnlyMemory<char>> keys = default;
        labelled.Schema["Label"].GetKeyValues(ref keys);
        Assert.Equal(result.Classes, keys.DenseValues().Select(k => k.ToString()));
    }

    [Fact]
    public void DenseTrainersReadTextHashedToABoundedWidth()
    {
        var words = Enumerable.Range(0, 5000).Select(i => $"w{i}").ToArray();
        var r = new Random(5);
        var path = WriteCsv("text.csv", "Label,Review", Enumerable.Range(0, 800).Select(i => $"{i % 3},{string.Join(' ', Enumerable.Range(0, 20).Select(_ => words[r.Next(words.Length)]))}"));
        var result = new MLContext(1).Fusion().InferColumns(path, "Label");
        var ml = new MLContext(1);
        var f = result.CreateFeaturizer(ml);
        var raw = result.Load(ml);
        var data = f.WithLabel.Fit(raw).Transform(raw);
        int sparse = ((VectorDataViewType)data.Schema[f.FeatureColumns.Single()].Type).Size;
        int dense = ((VectorDataViewType)data.Schema[f.DenseFeatureColumns.Single()].Type).Size;
        Assert.True(sparse > 10_000, $"n-gram width {sparse}");   // before: this is what the MLP densified (×rows)
        Assert.Equal(1024, dense);
    }

    [Fact]
    public void ALoudClipGivesFiniteLogMelAndNaNInsideAClipIsAnError()
    {
        var ml = new MLContext(1);
        var clip = Enumerable.Range(0, 4000).Select(i => (float)Math.Sin(i * 0.3)).ToArray();
        var rows = new[] { new Clip { Audio = clip.Select(v => v * 1e30f).ToArray() }, new Clip { Audio = clip } };
        var data = ml.Data.LoadFromEnumerable(rows);
        var mel = ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { OutputColumnName = "LogMel", InputColumnName = "Audio", SampleRate = 8000, FftSize = 256, HopLength = 128, Bands = 20 }).Fit(data);
        var values = mel.Transform(data).GetColumn<float[]>("LogMel").ToArray();
        Assert.All(values[0], v => Assert.True(float.IsFinite(v)));   // before: every value NaN (a silent missing modality)
        Assert.All(values[1], v => Assert.True(float.IsFinite(v)));
        // Louder by 1e30 in amplitude is 2·ln(1e30) ≈ 138 more in log power where the tone is.
        Assert.True(values[0].Max() - values[1].Max() > 100, $"{values[0].Max()} vs {values[1].Max()}");

        var broken = clip.ToArray(); broken[17] = float.PositiveInfinity;
        var bad = ml.Data.LoadFromEnumerable(new[] { new Clip { Audio = broken } });
        var ex = Assert.ThrowsAny<Exception>(() => mel.Transform(bad).GetColumn<float[]>("LogMel").ToArray());
        var inner = ex; while (inner.InnerException != null && !inner.Message.StartsWith("Row ", StringComparison.Ordinal)) inner = inner.InnerException;
        Assert.StartsWith("Row 0: column 'Audio' has a non-finite sample (Infinity) at position 17 of 4000.", inner.Message);
        Assert.Contains("Hint:", inner.Message);
    }

    private sealed class Clip { [VectorType(4000)] public float[] Audio { get; set; } = Array.Empty<float>(); }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void LateFusionRefusesANonFiniteFeatureNamingRowAndColumn(float bad)
    {
        var ml = new MLContext(1);
        var rows = ToyRow.Make(200, 4);
        rows[5].Tab[2] = bad;
        var train = ToyRow.Load(ml, rows);
        var late = ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
        {
            Members = new() { new LateFusionMember("Tab", "Tab", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Tab")) },
        });
        var ex = Assert.Throws<InvalidOperationException>(() => late.Fit(train));
        // before: ML.NET's "Splitter/consolidator worker encountered exception" (NaN) or silent training (+Inf)
        Assert.StartsWith($"Late-fusion member 'Tab': Row 5: column 'Tab' holds {bad.ToString(CultureInfo.InvariantCulture)} (slot 2)", ex.Message);
        Assert.Contains("Hint:", ex.Message);
    }

    [Fact]
    public void ATestFractionOutsideZeroToOneSaysSoWithoutCSharpParameterNames()
    {
        var path = WriteCsv("t.csv", "Label,x", Enumerable.Range(0, 40).Select(i => $"{i % 2},{i}"));
        var ex = Assert.Throws<ArgumentException>(() => MultimodalDataset.FromCsv(path, null, "Label", testFraction: 1.5));
        Assert.Equal("The test fraction is 1.5; without a test file it must be between 0 and 1 (exclusive)." + Environment.NewLine +
            "Hint: pass --test FILE, or --test-fraction 0.2 to hold out a fifth of the training rows.", ex.Message);
        var cli = NewUserPathTests.Cli("fit", "--train", path, "--label", "Label", "--test-fraction", "1.5", "--output", path + ".zip");
        Assert.Equal(1, cli.exit);
        Assert.DoesNotContain("Parameter", cli.stderr);
        Assert.DoesNotContain("Actual value", cli.stderr);
        Assert.False(File.Exists(path + ".zip"));
    }

    [Fact]
    public void InferenceSamplesTheWholeFileNotItsFirstRows()
    {
        // A file sorted by source: the first 1,000 rows say 'Color' has 2 values (one-hot) and 'Note' is one repeated
        // word; across the file, 'Color' has 400 values (hashed, not one-hot) and 'Note' is free text. A sample of the
        // first rows decided both wrongly.
        var rows = Enumerable.Range(0, 3000).Select(i => i < 1500
            ? $"{i % 2},first,{(i % 2 == 0 ? "red" : "blue")},fine,{i % 7}.5"
            : $"{i % 2},second,shade{i % 400},the delivery was late and the box was damaged number {i},{i % 7}.5");
        var path = WriteCsv("sorted.csv", "Label,Source,Color,Note,x", rows);
        var result = new MLContext(1).Fusion().InferColumns(path, "Label", "Source");
        Assert.Equal(ColumnRole.Text, result["Note"].Role);
        Assert.True(result["Color"].DistinctValues > result.Options.MaxOneHotCategories, $"'Color' seen with {result["Color"].DistinctValues} values");
        Assert.Equal(3000, result.RowCount);
        // A bad line after the sample's first rows is still named.
        var bad = WriteCsv("bad-late.csv", "Label,x", Enumerable.Range(0, 2500).Select(i => i == 2400 ? "1,2,3" : $"{i % 2},{i % 7}.5"));
        var ex = Assert.Throws<InvalidDataException>(() => new MLContext(1).Fusion().InferColumns(bad, "Label"));
        Assert.StartsWith("Line 2402 of ", ex.Message);
    }

    [Fact]
    public void WithoutATestFileWholeGroupsAreHeldOutHoweverFewThereAre()
    {
        // Three sources, as in UCI's Sentiment Labelled Sentences: ML.NET's hashed split held out none of them, and the
        // leaderboard then reported every entry's test accuracy as NaN.
        var path = WriteCsv("sources.csv", "Label,Source,x", Enumerable.Range(0, 90).Select(i => $"{i % 2},{new[] { "amazon", "yelp", "imdb" }[i % 3]},{(i * 7 % 13) * 0.5 + 0.25}"));
        var ml = new MLContext(seed: 1);
        var (train, test) = MultimodalDataset.FromCsv(path, null, "Label", "Source").LoadSplits(ml);
        var trainSources = train.GetColumn<ReadOnlyMemory<char>>("Source").Select(s => s.ToString()).ToHashSet();
        var testSources = test.GetColumn<ReadOnlyMemory<char>>("Source").Select(s => s.ToString()).ToList();
        Assert.Equal(30, testSources.Count);                    // one whole source of three (a fifth asked for: at least one group)
        Assert.Single(testSources.Distinct());
        Assert.DoesNotContain(testSources[0], trainSources);
        Assert.Equal(2, trainSources.Count);
    }

    [Fact]
    public void BareMlnetfusionPrintsUsageAndStartsNothing()
    {
        var cli = NewUserPathTests.Cli();
        Assert.Equal(0, cli.exit);
        Assert.Contains("Usage:", cli.stdout);
        Assert.Contains("run", cli.stdout);
        Assert.DoesNotContain("leaderboard on", cli.stdout.Split("Usage:")[1].Split('\n')[0]);
    }

    [Fact]
    public void TheGeneratedDatasetsSiteIsExplainedNotClaimedAsTheUsers()
    {
        var ds = MultimodalDataset.Synthetic(TestData.SyntheticFolder);
        var site = ds.Columns[SyntheticMultimodalDataset.SiteColumn];
        Assert.Equal(ColumnRole.Ignored, site.Role);
        Assert.DoesNotContain("given by you", site.Reason);
        Assert.Contains("--group Site", site.Reason);
    }
}
