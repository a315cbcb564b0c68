using System.Buffers;
using Microsoft.Extensions.Options;

namespace Ocr;

/// <summary>The <c>POST /ocr</c> handler.</summary>
internal static class OcrEndpoint
{
    /// <summary>Reads the image from the body or the first multipart file and answers the lines found, or a 400/413 problem.</summary>
    public static async Task<IResult> HandleAsync(HttpRequest request, OcrPipeline pipeline, IOptions<OcrOptions> options, CancellationToken cancellationToken)
    {
        var limit = options.Value.MaxRequestBytes;
        byte[] body;
        // Only multipart is a form here: curl --data-binary sends application/x-www-form-urlencoded by default.
        if (request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true)
        {
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return TooLarge(limit);
            }
            catch (Exception e) when (e is InvalidDataException or IOException && !cancellationToken.IsCancellationRequested)
            {
                // No boundary, a boundary the body lacks, a truncated part: the client's error, not a 500.
                return Problem(StatusCodes.Status400BadRequest, "Malformed multipart body", "The multipart/form-data body could not be read (" + e.Message + "): send the image as a file part (curl -F image=@page.png) or as the raw body.");
            }

            var file = form.Files.Count > 0 ? form.Files[0] : null;
            if (file is null)
            {
                return Problem(StatusCodes.Status400BadRequest, "No image", "The multipart/form-data request has no file: send the image as a file part (curl -F image=@page.png).");
            }

            if (file.Length > limit)
            {
                return TooLarge(limit);
            }

            body = new byte[file.Length];
            await using var stream = file.OpenReadStream();
            await stream.ReadExactlyAsync(body, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (request.ContentLength > limit)
            {
                return TooLarge(limit);
            }

            using var buffer = new MemoryStream(request.ContentLength is { } length and > 0 ? (int)length : 0);
            var chunk = ArrayPool<byte>.Shared.Rent(81920);
            try
            {
                int read;
                while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + read > limit)
                    {
                        return TooLarge(limit);
                    }

                    buffer.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            body = buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
        }

        if (body.Length == 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "No image", "The request body is empty: send a PNG, JPEG, WebP, GIF or BMP file as the body or as a multipart/form-data file.");
        }

        try
        {
            return Results.Ok(await pipeline.RecognizeAsync(body, cancellationToken).ConfigureAwait(false));
        }
        catch (OcrImageException e) when (e.TooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Image too large", e.Message);
        }
        catch (OcrImageException e)
        {
            return Problem(StatusCodes.Status400BadRequest, "Not an image", e.Message);
        }
        catch (OcrBusyException e)
        {
            request.HttpContext.Response.Headers.RetryAfter = "1";
            return Problem(StatusCodes.Status429TooManyRequests, "Too many images at once", e.Message);
        }
    }

    private static IResult TooLarge(int limit) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "Image too large", $"The image is larger than {limit} bytes (Ocr:MaxRequestBytes).");

    private static IResult Problem(int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail);
}
