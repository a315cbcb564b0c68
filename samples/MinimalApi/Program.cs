using System.Text.Json.Serialization;
using MinimalApi;
using ModelInService;

var builder = WebApplication.CreateBuilder(args);

// One line registers the model: loaded, checked against IrisFlower/IrisPrediction and warmed up at start-up.
builder.Services.AddModel<IrisFlower, IrisPrediction>("models/iris_mlp.onnx");

// Accept "NaN"/"Infinity" in JSON so the model's own validation can answer them with a clear 400.
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals);

var app = builder.Build();

app.MapPost("/predict", async (IrisFlower flower, IPredictor<IrisFlower, IrisPrediction> predictor, CancellationToken cancellationToken) =>
{
    try
    {
        return Results.Ok(await predictor.PredictAsync(flower, cancellationToken));
    }
    catch (ModelInputException ex)
    {
        // Bad input never reaches the model: NaN, wrong lengths and nulls come back as 400 naming the field.
        return Results.Problem(title: "Invalid input", detail: ex.Message, statusCode: StatusCodes.Status400BadRequest);
    }
});

app.MapGet("/", () => "POST a flower to /predict, e.g. {\"sepalLength\":5.1,\"sepalWidth\":3.5,\"petalLength\":1.4,\"petalWidth\":0.2}");

app.Run();
